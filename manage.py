#!/usr/bin/env python
"""Django's command-line utility for flowsite."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
    from django.core.management import execute_from_command_line

    from flowsite.local_state import prepare

    prepare()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
