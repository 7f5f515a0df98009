"""Builders for the areas tests: small grid files written as real GeoJSON bytes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from urbanops.areas import service
from urbanops.areas.schemas import ImportOut
from urbanops.kit.actor import SYSTEM
from urbanops.kit.clock import ManualClock

# A made-up street drawn as boxes far from Shenzhen (so no demo data can answer for it): the
# street fills the district, one community fills the street, and two unit grids split the
# community into west and east halves.
DISTRICT = box(101.00, 30.60, 101.10, 30.70)
WEST = box(101.00, 30.60, 101.05, 30.70)
EAST = box(101.05, 30.60, 101.10, 30.70)


def feature(code: str, name: str, geometry: BaseGeometry | dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature with the properties grid files carry."""
    geo = geometry if isinstance(geometry, dict) else mapping(geometry)
    return {"type": "Feature", "properties": {"code": code, "name": name}, "geometry": geo}


def collection(features: Sequence[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def street_features() -> list[dict[str, Any]]:
    return [
        feature("440311", "光明区", DISTRICT),
        feature("440311001", "光明街道", DISTRICT),
        feature("440311001001", "光明社区", DISTRICT),
        feature("440311001001001", "光明社区一号网格", WEST),
        feature("440311001001002", "光明社区二号网格", EAST),
    ]


ImportFile = Callable[..., ImportOut]


@pytest.fixture
def import_file(db: Session, clock: ManualClock) -> ImportFile:
    """Import bytes as a grid file through the service, as the system actor."""

    def _import(
        data: bytes, filename: str = "grids.geojson", crs: str = "wgs84", level: Any = None
    ) -> ImportOut:
        return service.import_areas(
            db, data=data, filename=filename, crs=crs, level=level, by=SYSTEM, now=clock.now()
        )

    return _import


@pytest.fixture
def guanhu_street(import_file: ImportFile) -> ImportOut:
    """A whole hierarchy: district, street, community and two unit grids."""
    return import_file(collection(street_features()))
