"""Whatever a client puts in the flow API's query string, the answer is the hits (200) or a 400
naming a parameter it sent: never a 500 (hypothesis writes the queries)."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trades.api.params import FlowPage

NAMES = [*FlowPage.model_fields, "tickr", "page"]
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "7", "1001", "true", "no", "NVDA", "nvda,aapl", "sweep", "put", "bullish"]),
    st.sampled_from(["2026-11-20", "2026-11-20T09:30", "2026-11-20T14:30:00Z", "golden", "unusual", "9e99"]),
)
QUERIES = st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=5)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES)
def test_any_query_is_hits_or_a_400_naming_a_parameter_it_sent(client: Client, query: dict[str, str]):
    response = client.get("/api/flow", query)
    assert response.status_code in (200, 400), (query, response.content[:300])
    if response.status_code == 400:
        named = {problem["parameter"] for problem in response.json()["errors"]}
        assert named <= set(query), (query, named)
    else:
        assert response.json()["results"] == []
