"""Discovery, the service list and service definitions, in XML and JSON, as the spec says."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.open311.conftest import V2
from tests.open311.support import spec_errors, valid_json, valid_xml, xml_items


def test_discovery_names_the_georeport_endpoint_in_both_formats(client: TestClient) -> None:
    body = client.get("/open311/discovery.json").json()
    assert (
        client.get("/open311/discovery.json").headers["content-type"].startswith("application/json")
    )
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["type"] == "test"
    assert set(endpoint["formats"]) == {
        "text/xml; charset=utf-8",
        "application/json; charset=utf-8",
    }
    assert body["changeset"] and "T" in body["changeset"]

    root = valid_xml(client.get(f"{V2}/discovery.xml"), "discovery")
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert formats == endpoint["formats"]


def test_services_are_the_public_matters_grouped_by_major_class(client: TestClient) -> None:
    services = valid_json(client.get(f"{V2}/services.json"), "services.json")
    by_code = {s["service_code"]: s for s in services}
    assert len(services) == 18  # the matters with shipped case standards
    vending = by_code["09006"]
    assert vending["service_name"] and vending["group"] == "街面秩序类"
    assert vending["metadata"] is False and vending["type"] == "realtime"
    assert "摆摊" in vending["keywords"]
    assert by_code["06001"]["metadata"] is True  # 违法建设: being built, or already built

    root = valid_xml(client.get(f"{V2}/services.xml"), "services")
    items = xml_items(root)
    assert [i["service_code"] for i in items] == [s["service_code"] for s in services]
    assert {i["metadata"] for i in items} == {"true", "false"}


def test_a_definition_lists_the_situations_a_matter_needs(client: TestClient) -> None:
    body = valid_json(client.get(f"{V2}/services/06001.json"), "service-definition.json")
    [attribute] = body["attributes"]
    assert attribute["code"] == "situation" and attribute["datatype"] == "singlevaluelist"
    assert attribute["required"] is True and attribute["variable"] is True
    assert [v["key"] for v in attribute["values"]] == ["正在建设", "已形成"]

    plain = valid_json(client.get(f"{V2}/services/09006.json"), "service-definition.json")
    assert plain == {"service_code": "09006", "attributes": []}

    root = valid_xml(client.get(f"{V2}/services/06001.xml"), "service_definition")
    keys = [k.text for k in root.findall("attributes/attribute/values/value/key")]
    assert keys == ["正在建设", "已形成"]
    assert root.findtext("attributes/attribute/required") == "true"


def test_unknown_services_and_jurisdictions_are_404_in_the_spec_format(
    client: TestClient,
) -> None:
    [error] = spec_errors(client.get(f"{V2}/services/99999.xml"), 404)
    assert "99999" in error["description"]
    spec_errors(client.get(f"{V2}/services/01001.json"), 404, "json")  # a component, not a matter
    wrong = client.get(f"{V2}/services.json", params={"jurisdiction_id": "sfgov.org"})
    assert "sfgov.org" in spec_errors(wrong, 404, "json")[0]["description"]
    ours = client.get(f"{V2}/services.json", params={"jurisdiction_id": "szlhq.gov.cn"})
    assert ours.status_code == 200
    empty = client.get(f"{V2}/services.json", params={"jurisdiction_id": ""})
    assert empty.json() == ours.json()  # an empty optional argument is an absent one


def test_other_formats_paths_and_methods_answer_in_the_spec_format(client: TestClient) -> None:
    assert "html" in spec_errors(client.get(f"{V2}/services.html"), 400)[0]["description"]
    spec_errors(client.get(f"{V2}/nothing.json"), 404, "json")
    spec_errors(client.delete(f"{V2}/services.xml"), 404)
