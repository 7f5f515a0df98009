"""The demo street's people, cameras and devices."""

from __future__ import annotations

import re
from collections import Counter

from urbanops.demo.geometry import DemoStreet, Officer, StaffMember
from urbanops.demo.names import GIVEN_CHARACTERS, SURNAMES, synthetic_names
from urbanops.kit.actor import Role


def test_each_grid_has_about_17_officers_and_one_leader(guanhu: DemoStreet) -> None:
    per_grid = Counter(officer.grid_code for officer in guanhu.officers)
    leaders = Counter(officer.grid_code for officer in guanhu.officers if officer.is_grid_leader)
    assert set(per_grid) == {grid.code for grid in guanhu.responsibility_grids}
    assert all(15 <= count <= 19 for count in per_grid.values())
    assert len(guanhu.officers) == 289
    assert set(leaders.values()) == {1} and len(leaders) == 17
    assert {officer.role for officer in guanhu.officers} == {Role.GRID_OFFICER}


def test_officer_usernames_say_grid_and_place_in_team(guanhu: DemoStreet) -> None:
    for officer in guanhu.officers:
        grid_number = officer.grid_code.removeprefix("440309001-")
        assert re.fullmatch(rf"gh{grid_number}\d\d", officer.username)
        assert officer.is_grid_leader == officer.username.endswith("01")


def test_most_officers_hold_an_enforcement_certificate(guanhu: DemoStreet) -> None:
    certificates = [o.certificate_no for o in guanhu.officers if o.certificate_no is not None]
    assert len(certificates) >= 0.75 * len(guanhu.officers)
    assert len(set(certificates)) == len(certificates)
    assert all(re.fullmatch(r"44030900\d{4}", number) for number in certificates)
    assert all(o.certificate_no for o in guanhu.officers if o.is_grid_leader)


def test_staff_fill_the_command_centre_and_squad_roles(guanhu: DemoStreet) -> None:
    roles = Counter(member.role for member in guanhu.staff)
    assert roles == {
        Role.OPERATOR: 6,
        Role.SHIFT_LEADER: 2,
        Role.DISPATCHER: 1,
        Role.SQUAD_LEADER: 3,
        Role.LEGAL_REVIEWER: 1,
        Role.LEADER: 1,
        Role.ADMIN: 1,
    }


def test_three_squad_leaders_share_the_17_grids(guanhu: DemoStreet) -> None:
    squads = [member.grid_codes for member in guanhu.staff if member.role is Role.SQUAD_LEADER]
    covered = [code for squad in squads for code in squad]
    assert all(5 <= len(squad) <= 7 for squad in squads)
    assert sorted(covered) == [grid.code for grid in guanhu.responsibility_grids]


def test_everyone_has_a_unique_username_name_and_synthetic_phone(guanhu: DemoStreet) -> None:
    people: list[Officer | StaffMember] = [*guanhu.officers, *guanhu.staff]
    for values in (
        [p.username for p in people],
        [p.name for p in people],
        [p.phone for p in people],
    ):
        assert len(set(values)) == len(values)
    assert all(re.fullmatch(r"1380000\d{4}", person.phone) for person in people)


def test_names_are_drawn_from_the_synthetic_name_lists(guanhu: DemoStreet) -> None:
    people: list[Officer | StaffMember] = [*guanhu.officers, *guanhu.staff]
    for person in people:
        surname, given = person.name[0], person.name[1:]
        assert surname in SURNAMES
        assert len(given) == 2 and all(char in GIVEN_CHARACTERS for char in given)


def test_synthetic_names_are_distinct_and_repeatable() -> None:
    names = synthetic_names(count=500, seed=1)
    assert len(set(names)) == 500
    assert synthetic_names(count=500, seed=1) == names
    assert synthetic_names(count=500, seed=2) != names


def test_cameras_stand_in_their_unit_grids_inside_the_street(guanhu: DemoStreet) -> None:
    units = {unit.code: unit.polygon for unit in guanhu.unit_grids}
    assert 8 <= len(guanhu.cameras) <= 12
    assert len({camera.code for camera in guanhu.cameras}) == len(guanhu.cameras)
    assert {camera.kind for camera in guanhu.cameras} == {"ptz", "fixed", "solar_led"}
    for camera in guanhu.cameras:
        assert re.fullmatch(r"\d{20}", camera.code)
        assert 0 <= camera.bearing_deg < 360
        assert units[camera.unit_grid_code].contains(camera.point)
        assert guanhu.street.polygon.contains(camera.point)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def test_devices_are_bound_to_known_officers_or_patrol_cars(guanhu: DemoStreet) -> None:
    people: list[Officer | StaffMember] = [*guanhu.officers, *guanhu.staff]
    usernames = {person.username for person in people}
    kinds = Counter(device.kind for device in guanhu.devices)
    assert 18 <= len(guanhu.devices) <= 22
    assert kinds["drone"] == 1 and kinds["vehicle"] == 2
    assert kinds["radio"] >= 5 and kinds["body_camera"] >= 5
    for device in guanhu.devices:
        if device.kind == "vehicle":
            assert device.username is None and re.fullmatch(
                r"粤B[0-9A-Z]{5}", device.vehicle_plate or ""
            )
        else:
            assert device.username in usernames and device.vehicle_plate is None


def test_device_identifiers_are_unique_imei_like_numbers(guanhu: DemoStreet) -> None:
    identifiers = [device.identifier for device in guanhu.devices]
    assert len(set(identifiers)) == len(identifiers)
    assert all(re.fullmatch(r"\d{15}", number) and luhn_valid(number) for number in identifiers)
