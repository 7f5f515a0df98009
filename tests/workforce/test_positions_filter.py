"""The position filter over arrays (batches) judges every fix as the one-by-one filter does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from urbanops.workforce.positions import DeviceRef, Fix, FixBlock, PositionIngest

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
DEVICES = [DeviceRef(id=n, identifier=f"imei{n}", user_id=None if n == 3 else 100 + n)
           for n in (1, 2, 3)]  # fmt: skip
BASE = (114.0300, 22.6500)

#: (device, second, lon step, lat step, accuracy): steps of 1e-4° (~11 m); seconds run from five
#: minutes ago, so 400 is just ahead (tolerated) and 700 is in the future; a step of 60 is a jump
#: of ~700 m, impossible within a few seconds.
raw_fix = st.tuples(
    st.sampled_from(range(3)),
    st.one_of(st.integers(0, 40), st.sampled_from([400, 700])),
    st.integers(-3, 3) | st.just(60),
    st.integers(-3, 3),
    st.none() | st.sampled_from([5.0, 30.0, 250.0]),
)


def make(raw: tuple[int, int, int, int, float | None]) -> Fix:
    device, second, dx, dy, accuracy = raw
    return Fix(device=DEVICES[device], at=NOW - timedelta(seconds=300) + timedelta(seconds=second),
               received_at=NOW, lon=BASE[0] + dx * 1e-4 + device * 1e-3, lat=BASE[1] + dy * 1e-4,
               source="batch", accuracy_m=accuracy)  # fmt: skip


def latest(ingest: PositionIngest) -> dict[int, tuple[datetime, float, float] | None]:
    found = {d.id: ingest.latest(d.id) for d in DEVICES}
    return {d: None if f is None else (f.at, f.lon, f.lat) for d, f in found.items()}


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(raw_fix, max_size=8),
    batch=st.lists(raw_fix, min_size=1, max_size=60),
    after=st.lists(raw_fix, max_size=20),
)
def test_a_batch_judged_in_bulk_gets_the_verdicts_of_fixes_judged_one_by_one(
    before: list[tuple[int, int, int, int, float | None]],
    batch: list[tuple[int, int, int, int, float | None]],
    after: list[tuple[int, int, int, int, float | None]],
) -> None:
    in_bulk, one_by_one = PositionIngest(), PositionIngest()
    for ingest in (in_bulk, one_by_one):  # the same history before the batch
        ingest.submit([make(r) for r in before], now=NOW)

    fixes = [make(r) for r in batch]
    assert in_bulk.submit_block(FixBlock.from_fixes(fixes), now=NOW) == one_by_one.submit(
        fixes, now=NOW
    )
    assert latest(in_bulk) == latest(one_by_one)
    assert in_bulk.waiting == one_by_one.waiting
    # what each remembers (recent times, latest) judges the next fixes alike
    later = [make(r) for r in after]
    assert in_bulk.submit(later, now=NOW) == one_by_one.submit(later, now=NOW)


def test_a_device_whose_chain_breaks_mid_batch_is_judged_fix_by_fix() -> None:
    """A jump in the middle of one device's fixes: the fix after it is judged against the
    fix before the jump, not against the dropped one."""
    ingest = PositionIngest()
    device = DEVICES[0]
    lons = [114.0300, 114.0301, 114.0400, 114.0302, 114.0303]  # the third is ~1 km away
    fixes = [Fix(device=device, at=NOW - timedelta(seconds=60 - 5 * i), received_at=NOW, lon=lon,
                 lat=22.65, source="batch") for i, lon in enumerate(lons)]  # fmt: skip
    rejections = ingest.submit_block(FixBlock.from_fixes(fixes), now=NOW)
    assert [(r.index, r.reason) for r in rejections] == [(2, "impossible_speed")]
    newest = ingest.latest(device.id)
    assert newest is not None and (newest.lon, newest.at) == (lons[4], fixes[4].at)


def test_the_latest_fix_of_a_batch_comes_back_whole() -> None:
    ingest = PositionIngest()
    fix = Fix(device=DEVICES[1], at=NOW - timedelta(seconds=5), received_at=NOW, lon=BASE[0],
              lat=BASE[1], source="batch", speed_mps=1.5, course=90.0, altitude=None,
              accuracy_m=8.0, battery=64.0, attributes={"seq": 7})  # fmt: skip
    assert ingest.submit_block(FixBlock.from_fixes([fix]), now=NOW) == []
    got = ingest.latest(DEVICES[1].id)
    assert got is not None and got is not fix
    assert {name: getattr(got, name) for name in Fix.__slots__} == {
        name: getattr(fix, name) for name in Fix.__slots__
    }
    assert ingest.latest_all() == {DEVICES[1].id: got}
