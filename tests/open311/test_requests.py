"""Service requests: a round trip, tokens, every filter, the 90-day / 1,000 rule, errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tests.cases.conftest import People, make_report, sample_point
from tests.conftest import SHANGHAI
from tests.open311.conftest import V2
from tests.open311.support import spec_errors, valid_json, valid_xml, xml_items
from urbanops.app import create_app
from urbanops.cases import service
from urbanops.cases.models import Case, CaseReport, CaseState
from urbanops.config import Settings
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.kit.web import get_session


def post(client: TestClient, key: str | None, fmt: str = "json", **fields: Any) -> httpx.Response:
    """POST requests.<fmt> form-encoded, at demo point 0 unless told otherwise."""
    lon, lat = sample_point(0)
    body: dict[str, Any] = {"service_code": "09006", "lat": lat, "long": lon}
    if key is not None:
        body["api_key"] = key
    body |= fields
    return client.post(f"{V2}/requests.{fmt}", data={k: v for k, v in body.items() if v != ...})


def close_inside_the_platform(
    db: Session, clock: ManualClock, people: People, case_id: int
) -> None:
    """核实 → 立案 → 派遣 → 签收 → 处置 → 核查 → 结案, by the demo team."""
    steps = [
        ("verify", people.officer, {}),
        ("register", people.operator, {}),
        ("dispatch", people.dispatcher, {"officer_id": people.officer.id}),
        ("accept", people.officer, {}),
        ("handle", people.officer, {}),
        ("check", people.squad_leader, {}),
        ("close", people.shift_leader, {}),
    ]
    for action, by, extra in steps:
        clock.advance(timedelta(minutes=10))
        service.act(db, case_id=case_id, action=action, by=by, now=clock.now(), **extra)


def test_a_client_round_trip_from_discovery_to_a_closed_request(
    client: TestClient, db: Session, clock: ManualClock, people: People, api_key: str
) -> None:
    discovery = client.get("/open311/discovery.json").json()
    endpoint = discovery["endpoints"][0]["url"]
    base = endpoint.removeprefix("http://testserver")
    services = valid_json(client.get(f"{base}/services.json"), "services.json")
    chosen = next(s for s in services if s["metadata"])  # one that needs its definition
    definition = valid_json(
        client.get(f"{base}/services/{chosen['service_code']}.json"), "service-definition.json"
    )
    situation = definition["attributes"][0]
    answer = post(
        client, api_key, service_code=chosen["service_code"],
        description="小区门口有人正在搭建铁皮房",
        **{f"attribute[{situation['code']}]": situation["values"][0]["key"]},
    )  # fmt: skip
    [created] = valid_json(answer, "swagger:RequestResponse[]")
    number = created["service_request_id"]
    assert "处置" in created["service_notice"]

    [request] = valid_json(client.get(f"{base}/requests/{number}.json"), "requests.json")
    assert request["status"] == "open"
    assert request["service_code"] == chosen["service_code"]
    assert request["description"] == "小区门口有人正在搭建铁皮房"
    assert request["agency_responsible"] == "街道综合行政执法队"
    assert request["requested_datetime"].endswith("+08:00")
    assert request["expected_datetime"] is not None

    case = db.scalars(select(Case).where(Case.number == number)).one()
    close_inside_the_platform(db, clock, people, case.id)

    [closed] = valid_json(client.get(f"{base}/requests/{number}.json"), "requests.json")
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "已办结"
    assert case.closed_at is not None
    assert closed["updated_datetime"] == case.closed_at.astimezone(SHANGHAI).isoformat()
    assert closed["expected_datetime"] is None
    root = valid_xml(client.get(f"{base}/requests/{number}.xml"), "service_requests")
    [item] = xml_items(root)
    assert item["status"] == "closed" and item["service_request_id"] == number


def test_the_post_answer_and_the_request_come_in_xml_too(client: TestClient, api_key: str) -> None:
    root = valid_xml(post(client, api_key, fmt="xml"), "service_requests")
    [created] = xml_items(root)
    assert set(created) == {"service_request_id", "service_notice"}
    again = valid_xml(client.get(f"{V2}/requests/{created['service_request_id']}.xml"),
                      "service_requests")  # fmt: skip
    [item] = xml_items(again)
    assert item["status"] == "open" and item["long"] and item["lat"]
    assert item["zipcode"] == ""  # null fields are empty elements


def test_a_batch_endpoint_answers_a_token_that_resolves_to_the_id(
    db_engine, db: Session, settings: Settings, clock: ManualClock, api_key: str
) -> None:  # type: ignore[no-untyped-def]
    batch = settings.model_copy(update={"open311_request_type": "batch"})
    app = create_app(batch, engine=db_engine, clock=clock)

    def _session():  # type: ignore[no-untyped-def]
        yield db
        db.commit()

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as client:
        services = valid_json(client.get(f"{V2}/services.json"), "services.json")
        assert {s["type"] for s in services} == {"batch"}
        [created] = valid_json(post(client, api_key), "swagger:RequestResponse[]")
        assert "service_request_id" not in created
        token = created["token"]
        [found] = valid_json(client.get(f"{V2}/tokens/{token}.json"), "swagger:TokenResponse[]")
        assert found["token"] == token
        [request] = valid_json(
            client.get(f"{V2}/requests/{found['service_request_id']}.json"), "requests.json"
        )
        assert request["status"] == "open"
        root = valid_xml(client.get(f"{V2}/tokens/{token}.xml"), "service_requests")
        assert xml_items(root) == [found]
        spec_errors(client.get(f"{V2}/tokens/nope.json"), 404, "json")


def test_a_realtime_request_has_a_token_too(client: TestClient, db: Session, api_key: str) -> None:
    [created] = post(client, api_key).json()
    report = db.scalars(
        select(CaseReport).join(Case).where(Case.number == created["service_request_id"])
    ).one()
    [found] = client.get(f"{V2}/tokens/{report.source_ref}.json").json()
    assert found["service_request_id"] == created["service_request_id"]


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Case)) or 0


def test_bad_requests_are_refused_in_the_spec_format_and_change_nothing(
    client: TestClient, db: Session, api_key: str, auth_headers
) -> None:  # type: ignore[no-untyped-def]
    before = _count(db)
    assert "api_key" in spec_errors(post(client, None, "xml"), 403)[0]["description"]
    spec_errors(post(client, "uok_0000_wrong"), 403, "json")
    device_key = auth_headers(Role.DEVICE)["X-API-Key"]
    spec_errors(post(client, device_key, "xml"), 403)
    assert (
        "99999"
        in spec_errors(post(client, api_key, "xml", service_code="99999"), 404)[0]["description"]
    )
    lon, lat = sample_point(0)
    [error] = spec_errors(post(client, api_key, "json", long=..., lat=lat), 400, "json")
    assert "long" in error["description"]
    spec_errors(post(client, api_key, "xml", description="乱" * 4001), 400)
    spec_errors(post(client, api_key, "xml", lat=..., long=...), 400)  # no location at all
    spec_errors(post(client, api_key, "xml", lat="north", long=lon), 400)
    spec_errors(post(client, api_key, "xml", service_code=...), 400)
    spec_errors(
        post(client, api_key, "xml", service_code="06001"), 400
    )  # its situation is required
    spec_errors(
        post(client, api_key, "xml", service_code="06001", **{"attribute[situation]": "x"}), 400
    )
    both = spec_errors(post(client, api_key, long=..., description="乱" * 4001), 400, "json")
    assert len(both) == 2  # every error at once
    spec_errors(post(client, api_key, "xml", jurisdiction_id="sfgov.org"), 404)
    assert _count(db) == before


def test_a_description_of_exactly_4000_characters_is_taken(
    client: TestClient, api_key: str
) -> None:
    assert post(client, api_key, description="乱" * 4000).status_code == 200


def test_an_address_alone_is_placed_at_the_area_it_names(
    client: TestClient, db: Session, api_key: str
) -> None:
    from urbanops.areas.models import Area

    community = db.scalars(select(Area).where(Area.level == "community")).first()
    assert community is not None
    by_name = post(client, api_key, lat=..., long=...,
                   address_string=f"{community.name}某某路12号门口")  # fmt: skip
    [created] = valid_json(by_name, "swagger:RequestResponse[]")
    case = db.scalars(select(Case).where(Case.number == created["service_request_id"])).one()
    assert case.community_code == community.code
    report = db.scalars(select(CaseReport).where(CaseReport.case_id == case.id)).one()
    assert report.extra is not None and report.extra["location_approximate"] is True

    by_id = post(client, api_key, lat=..., long=..., address_id=community.code,
                 description="另一处问题", service_code="06036")  # fmt: skip
    assert by_id.status_code == 200
    [error] = spec_errors(
        post(client, api_key, "xml", lat=..., long=..., address_string="火星"), 400
    )
    assert "address_string" in error["description"]


def test_the_situation_chosen_is_kept_for_the_operator(
    client: TestClient, db: Session, api_key: str
) -> None:
    answer = post(client, api_key, service_code="06001", **{"attribute[situation]": "已形成"})
    [created] = valid_json(answer, "swagger:RequestResponse[]")
    report = db.scalars(
        select(CaseReport).join(Case).where(Case.number == created["service_request_id"])
    ).one()
    assert report.channel == "open311"
    assert report.extra is not None and report.extra["attributes"] == {"situation": "已形成"}


def test_no_personal_data_leaves_in_any_answer(
    client: TestClient, db: Session, clock: ManualClock, people: People, api_key: str
) -> None:
    make_report(db, clock, people.operator, index=1, channel="hotline_12345",
                description="市民张三来电，回电13800000001")  # fmt: skip
    post(client, api_key, first_name="小明", last_name="李", phone="13912345678",
         email="xiaoming@example.com", device_id="dev-42", account_id="acct-7",
         description="我是小明，电话 139-1234-5678，邮箱 xiaoming@example.com")  # fmt: skip
    personal = ["张三", "13800000001", "075512345678", "小明", "13912345678",
                "139-1234-5678", "xiaoming@example.com", "dev-42", "acct-7"]  # fmt: skip
    answers = [
        client.get(f"{V2}/requests.json"),
        client.get(f"{V2}/requests.xml"),
        client.get(f"{V2}/servicerequestupdates.json"),
        client.get(f"{V2}/servicerequestupdates.xml"),
    ]
    numbers = [r["service_request_id"] for r in answers[0].json()]
    assert len(numbers) == 2
    answers += [client.get(f"{V2}/requests/{n}.{f}") for n in numbers for f in ("json", "xml")]
    for answer in answers:
        assert answer.status_code == 200
        for value in personal:
            assert value not in answer.text, (value, answer.url)


def test_letters_cases_are_never_published(
    client: TestClient, db: Session, clock: ManualClock, people: People
) -> None:
    petition = make_report(db, clock, people.operator, channel="petition").case
    assert client.get(f"{V2}/requests.json").json() == []
    spec_errors(client.get(f"{V2}/requests/{petition.number}.json"), 404, "json")


def test_filters_by_id_service_status_and_dates(
    client: TestClient, db: Session, clock: ManualClock, people: People
) -> None:
    vending = make_report(db, clock, people.officer, index=0).case
    clock.advance(timedelta(hours=1))
    litter = make_report(db, clock, people.officer, index=1, matter_code="06010").case
    rejected = make_report(db, clock, people.officer, index=2, matter_code="06036").case
    service.act(db, case_id=rejected.id, action="reject", by=people.operator,
                now=clock.now(), reason="不属实")  # fmt: skip

    def numbers(**params: str) -> list[str]:
        answer = client.get(f"{V2}/requests.json", params=params)
        return [r["service_request_id"] for r in valid_json(answer, "requests.json")]

    assert numbers() == [rejected.number, litter.number, vending.number]  # newest first
    assert numbers(service_code="06010,06036") == [rejected.number, litter.number]
    assert numbers(status="closed") == [rejected.number]
    assert numbers(status="open") == [litter.number, vending.number]
    assert numbers(status="open,closed") == numbers()
    later = (vending.reported_at + timedelta(minutes=30)).isoformat()
    assert numbers(start_date=later) == [rejected.number, litter.number]
    assert numbers(end_date=later) == [vending.number]
    ids = f"{vending.number},{rejected.number}"
    assert numbers(service_request_id=ids, status="open", service_code="06010") == [
        vending.number, rejected.number,
    ]  # fmt: skip
    assert numbers(service_code="", status="") == numbers()
    spec_errors(client.get(f"{V2}/requests.json", params={"status": "pending"}), 400, "json")
    spec_errors(client.get(f"{V2}/requests.xml", params={"start_date": "2026-11-26"}), 400)
    spec_errors(client.get(f"{V2}/requests.xml", params={"end_date": "2026-11-26T10:00:00"}), 400)


def test_the_window_is_at_most_90_days_and_defaults_to_the_last_90(
    client: TestClient, db: Session, clock: ManualClock, people: People
) -> None:
    old = make_report(db, clock, people.officer).case
    clock.advance(timedelta(days=91))
    assert client.get(f"{V2}/requests.json").json() == []
    start = (old.reported_at - timedelta(days=1)).isoformat()
    [found] = client.get(f"{V2}/requests.json", params={"start_date": start}).json()
    assert found["service_request_id"] == old.number
    [by_id] = client.get(f"{V2}/requests.json", params={"service_request_id": old.number}).json()
    assert by_id["service_request_id"] == old.number
    too_long = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-04-02T00:00:00+08:00"}
    [error] = spec_errors(client.get(f"{V2}/requests.json", params=too_long), 400, "json")
    assert "90 days" in error["description"]
    exactly = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-04-01T00:00:00+08:00"}
    assert client.get(f"{V2}/requests.json", params=exactly).status_code == 200
    backwards = {"start_date": "2026-04-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}
    spec_errors(client.get(f"{V2}/requests.xml", params=backwards), 400)


def _many_cases(db: Session, clock: ManualClock, count: int) -> None:
    """``count`` plain reported cases in the last hour (inserted in one statement)."""
    lon, lat = sample_point(0)
    now = clock.now()
    common = {
        "state": CaseState.REPORTED, "channel": "citizen", "matter_code": "09006",
        "lon": lon, "lat": lat, "inside_jurisdiction": True, "created_by": "test",
        "updated_at": now, "version": 1,
    }  # fmt: skip
    rows = [
        common | {"number": f"T311-{i:05d}", "description": f"第{i}个问题", "reported_at": at}
        for i, at in ((i, now - timedelta(seconds=i)) for i in range(count))
    ]
    db.execute(insert(Case), rows)


def test_a_page_holds_at_most_1000_requests_and_pages_reach_the_rest(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    _many_cases(db, clock, 1003)
    first = valid_json(client.get(f"{V2}/requests.json"), "requests.json")
    assert len(first) == 1000
    assert first[0]["service_request_id"] == "T311-00000"
    second = client.get(f"{V2}/requests.json", params={"page": "2"}).json()
    assert [r["service_request_id"] for r in second] == ["T311-01000", "T311-01001", "T311-01002"]
    small = client.get(f"{V2}/requests.json", params={"page": "3", "page_size": "10"}).json()
    assert [r["service_request_id"] for r in small][:2] == ["T311-00020", "T311-00021"]
    for bad in ({"page_size": "1001"}, {"page": "0"}, {"page": "x"}):
        spec_errors(client.get(f"{V2}/requests.json", params=bad), 400, "json")
    assert len(client.get(f"{V2}/requests.xml").content) > 0


def test_an_unknown_request_id_is_404(client: TestClient) -> None:
    [error] = spec_errors(client.get(f"{V2}/requests/440309001-20261126-9999.json"), 404, "json")
    assert "440309001-20261126-9999" in error["description"]
    spec_errors(client.get(f"{V2}/requests/nope.xml"), 404)
