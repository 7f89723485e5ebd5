"""Standard Webhooks signing (https://www.standardwebhooks.com/): placeholder until written."""

import base64
import secrets


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
