"""Reading and writing grid files (GeoJSON, zipped Shapefile, GeoPackage) through pyogrio/GDAL.

Files arrive from the city's GIS (地理信息系统) in a declared CRS; everything inside is WGS84.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pyogrio.raw
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from urbanops.kit.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from urbanops.kit.geo import from_wgs84, parse_crs, to_wgs84

ExportFormat = Literal["geojson", "shapefile", "gpkg"]
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
POLYGONAL = ("Polygon", "MultiPolygon")
CODE_KEYS = ("code", "adcode", "grid_code")
NAME_KEYS = ("name", "grid_name")
SUFFIX_FORMAT = {".geojson": "geojson", ".json": "geojson", ".zip": "shapefile", ".gpkg": "gpkg"}
MEDIA_TYPES: dict[str, str] = {
    "geojson": "application/geo+json",
    "shapefile": "application/zip",
    "gpkg": "application/geopackage+sqlite3",
}
# GCJ-02 and BD-09 have no EPSG code: such files carry no CRS rather than a false one.
FILE_CRS: dict[str, str] = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}
EXTENSIONS: dict[str, str] = {"geojson": "geojson", "shapefile": "zip", "gpkg": "gpkg"}


@dataclass(frozen=True)
class Feature:
    """One polygon read from a file, already in WGS84, with its mapped properties."""

    index: int
    geometry: BaseGeometry
    code: str | None
    name: str | None
    level: str | None
    parent_code: str | None
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How a message names the feature: its code and name, else its position in the file."""
        parts = [f"feature #{self.index + 1}"]
        if self.code:
            parts.append(f"code {self.code}")
        if self.name:
            parts.append(self.name)
        return " ".join(parts[:1]) + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


@dataclass(frozen=True)
class ExportRow:
    """One area or grid to write out: its outline (WGS84) and flat attributes."""

    geometry: BaseGeometry
    properties: dict[str, str | float | None]


def file_format(filename: str) -> str:
    """The format a file name declares; a 415 problem for anything else."""
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix == ".shp":
        raise UnsupportedMediaType(
            "Send a Shapefile as one .zip holding its .shp, .shx and .dbf (and .prj, .cpg)",
            code="unsupported_format",
        )
    if suffix not in SUFFIX_FORMAT:
        raise UnsupportedMediaType(
            f"{filename!r} is not GeoJSON (.geojson/.json), a zipped Shapefile (.zip) "
            "or a GeoPackage (.gpkg)",
            code="unsupported_format",
        )
    return SUFFIX_FORMAT[suffix]


def read_features(data: bytes, filename: str, crs_name: str) -> list[Feature]:
    """Read every polygon of a grid file in ``crs_name``, validated and converted to WGS84."""
    crs = parse_crs(crs_name)
    fmt = file_format(filename)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    with tempfile.TemporaryDirectory(prefix="urbanops-gis-") as tmp:
        path = _stage(data, fmt, Path(tmp))
        meta, geometries, fields = _read_layer(path)
    to_geographic = _geographic_transformer(meta.get("crs"))
    features = []
    for index, wkb in enumerate(geometries):
        props = {name: _plain(values[index]) for name, values in fields.items()}
        features.append(_feature(index, wkb, props, crs, to_geographic))
    return features


def _stage(data: bytes, fmt: str, folder: Path) -> Path:
    """Put the upload on disk where GDAL can open it; a Shapefile zip is unpacked safely."""
    if fmt == "geojson":
        path = folder / "upload.geojson"
        path.write_bytes(_feature_collection(data))
        return path
    if fmt == "gpkg":
        path = folder / "upload.gpkg"
        path.write_bytes(data)
        return path
    return _unzip_shapefile(data, folder)


def _feature_collection(data: bytes) -> bytes:
    """GeoJSON as is; a bare JSON array of Feature objects wrapped into a FeatureCollection."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _malformed(f"the file is not valid JSON: {exc}") from exc
    if isinstance(document, list):
        return json.dumps({"type": "FeatureCollection", "features": document}).encode()
    if not isinstance(document, dict) or "type" not in document:
        raise _malformed("the JSON is neither a GeoJSON object nor an array of Features")
    return data


def _unzip_shapefile(data: bytes, folder: Path) -> Path:
    """Extract the one Shapefile of a zip (flat names only, bounded size) and answer its .shp."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _malformed("the .zip archive cannot be opened") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            raise PayloadTooLarge("The zip archive unpacks to more than 256 MiB")
        shps = [m for m in members if m.filename.lower().endswith(".shp")]
        if len(shps) != 1:
            raise _malformed(f"the zip must hold exactly one .shp file, it holds {len(shps)}")
        stem = shps[0].filename[:-4]
        for member in members:
            if member.filename.startswith(stem + ".") and "/" not in member.filename[len(stem) :]:
                target = folder / ("layer" + member.filename[len(stem) :].lower())
                target.write_bytes(archive.read(member))
    return folder / "layer.shp"


def _read_layer(path: Path) -> tuple[dict[str, Any], Sequence[bytes | None], dict[str, Any]]:
    """The first layer's metadata, WKB geometries and attribute columns."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            meta, _fids, geometries, field_data = pyogrio.raw.read(path)
    except (DataSourceError, DataLayerError) as exc:
        raise _malformed(f"GDAL cannot read it: {exc}") from exc
    if geometries is None:
        raise _malformed("the layer has no geometry column")
    fields = dict(zip((str(n) for n in meta["fields"]), field_data, strict=True))
    return meta, geometries, fields


def _malformed(reason: str) -> BadRequest:
    return BadRequest(f"The file cannot be read as a grid file: {reason}", code="malformed_file")


def _geographic_transformer(file_crs: str | None) -> Transformer | None:
    """For a file in projected coordinates (e.g. CGCS2000 Gauss-Krüger), a step back to lon/lat."""
    if not file_crs:
        return None
    try:
        crs = CRS.from_user_input(file_crs)
    except CRSError:
        return None
    if not crs.is_projected or crs.geodetic_crs is None:
        return None
    return Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)


def _plain(value: Any) -> Any:
    """A numpy scalar or array as a plain Python value, so properties serialise to JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _feature(
    index: int,
    wkb: bytes | None,
    props: dict[str, Any],
    crs: Any,
    to_geographic: Transformer | None,
) -> Feature:
    """Map one record's properties and check, then convert, its geometry."""
    lowered = {key.lower(): value for key, value in props.items()}
    feature = Feature(
        index=index,
        geometry=shapely.Point(),
        code=_code_text(_first(lowered, CODE_KEYS)),
        name=_text(_first(lowered, NAME_KEYS)),
        level=_text(lowered.get("level")),
        parent_code=_code_text(lowered.get("parent_code") or lowered.get("parent")),
        properties=props,
    )
    geometry = _checked_geometry(feature, wkb)
    if to_geographic is not None:
        geometry = shapely.transform(geometry, _xy(to_geographic))
    wgs84 = to_wgs84(geometry, crs)
    _check_range(feature, wgs84)
    return Feature(**{**feature.__dict__, "geometry": wgs84})


def _first(props: dict[str, Any], keys: Iterable[str]) -> Any:
    return next((props[k] for k in keys if props.get(k) not in (None, "")), None)


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip() or None


def _code_text(value: Any) -> str | None:
    """A code as text: numeric fields (440303 or 440303.0) lose their decimal point."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _text(value)


def _checked_geometry(feature: Feature, wkb: bytes | None) -> BaseGeometry:
    """The feature's polygon, or a 422 problem naming the feature and what is wrong with it."""
    geometry = shapely.from_wkb(wkb) if wkb is not None else None
    if geometry is None or geometry.is_empty:
        raise _invalid_geometry(feature, "it has no geometry")
    if geometry.geom_type not in POLYGONAL:
        raise _invalid_geometry(feature, f"it is a {geometry.geom_type}, not a polygon")
    if geometry.has_z:
        geometry = shapely.force_2d(geometry)
    if not shapely.is_valid(geometry):
        raise _invalid_geometry(feature, shapely.is_valid_reason(geometry))
    return geometry


def _check_range(feature: Feature, geometry: BaseGeometry) -> None:
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise InvalidInput(
            f"{feature.label} has coordinates outside longitude/latitude range; "
            "is the declared CRS right?",
            code="coordinates_out_of_range",
            feature=feature.index + 1,
        )


def _invalid_geometry(feature: Feature, reason: str) -> InvalidInput:
    return InvalidInput(
        f"{feature.label} has an invalid geometry: {reason}",
        code="invalid_geometry",
        feature=feature.index + 1,
        feature_code=feature.code,
        reason=reason,
    )


def _xy(transformer: Transformer) -> Any:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return apply


def write_features(rows: Sequence[ExportRow], fmt: ExportFormat, crs_name: str = "wgs84") -> bytes:
    """Write rows as a GeoJSON, zipped Shapefile or GeoPackage file in ``crs_name``."""
    crs = parse_crs(crs_name)
    geometries = np.array(
        [shapely.to_wkb(from_wgs84(row.geometry, crs)) for row in rows], dtype=object
    )
    names = list(rows[0].properties) if rows else ["code", "name"]
    columns = [np.array([row.properties.get(n) for row in rows], dtype=object) for n in names]
    columns = [_typed(column) for column in columns]
    with tempfile.TemporaryDirectory(prefix="urbanops-gis-") as tmp:
        folder = Path(tmp)
        path = folder / f"areas.{'shp' if fmt == 'shapefile' else EXTENSIONS[fmt]}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # GCJ-02/BD-09 files carry no CRS
            _write(path, geometries, columns, names, fmt, FILE_CRS.get(crs.value))
        return _zip_folder(folder) if fmt == "shapefile" else path.read_bytes()


def _write(
    path: Path,
    geometries: np.ndarray,
    columns: list[np.ndarray],
    names: list[str],
    fmt: ExportFormat,
    crs: str | None,
) -> None:
    """One layer named ``areas``; polygons promoted to multipolygons so every format agrees."""
    pyogrio.raw.write(
        str(path),
        geometries,
        columns,
        names,
        driver={"geojson": "GeoJSON", "shapefile": "ESRI Shapefile", "gpkg": "GPKG"}[fmt],
        layer="areas",
        geometry_type="MultiPolygon",
        promote_to_multi=True,
        crs=crs,
        encoding="UTF-8" if fmt == "shapefile" else None,
    )


def _typed(column: np.ndarray) -> np.ndarray:
    """Numbers as float64 (missing → NaN, written as null); everything else as text."""
    present = [v for v in column if v is not None]
    if present and all(isinstance(v, int | float) for v in present):
        return np.array([np.nan if v is None else float(v) for v in column], dtype=np.float64)
    return np.array([None if v is None else str(v) for v in column], dtype=object)


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue()
