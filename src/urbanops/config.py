"""Settings, read from the environment with the prefix ``URBANOPS_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-in-production"

Mode = Literal["demo", "dev", "test", "production"]
TileCRS = Literal["wgs84", "gcj02", "bd09"]


class Settings(BaseSettings):
    """Everything an operator may set; defaults run the one-street demo on SQLite."""

    model_config = SettingsConfigDict(env_prefix="URBANOPS_", env_file=".env", extra="ignore")

    mode: Mode = "dev"
    database_url: str = "sqlite:///./var/urbanops.db"
    secret_key: str = DEFAULT_SECRET
    timezone: str = "Asia/Shanghai"
    # Working hours of the command centre's handling units, for 工作时 deadlines.
    working_hours: str = "09:00-12:00,14:00-18:00"
    # The console's base map: a tile URL template and the CRS its tiles are drawn in (OSM:
    # wgs84, AMap: gcj02, Tianditu: CGCS2000, which counts as wgs84 at map scale). Empty: no
    # tiles, the grids draw on a plain background and the pages ask nothing of another server.
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_crs: TileCRS = "wgs84"
    map_attribution: str = "© OpenStreetMap contributors"
    # The command-centre console (NiceGUI, at /console). Unset: on, except in test mode, where
    # the in-process apps of the test suite leave it out (NiceGUI mounts once per process).
    console_enabled: bool | None = None
    # The address the public reaches this server at (links in Open311 answers, photo addresses);
    # unset: the address each request came to.
    public_base_url: str | None = None
    # Open311 GeoReport v2 (urbanops.open311): this endpoint's one jurisdiction_id, and whether
    # a POSTed request answers its id at once ("realtime") or a token to look it up ("batch").
    open311_jurisdiction_id: str = "szlhq.gov.cn"
    open311_request_type: Literal["realtime", "batch"] = "realtime"
    evidence_root: Path = Path("./var/evidence")
    # Requests served at once per process; the rest queue (see kit.web.RequestLimit). The
    # database pool is sized to match, and the worker thread pool (40) stays above it.
    max_concurrent_requests: int = Field(default=16, ge=1, le=32)
    session_max_age_s: int = 12 * 3600
    api_token_ttl_s: int = 12 * 3600
    # Seconds between passes of the periodic jobs (the deadline sweeper); 0 disables them.
    sweeper_interval_s: float = Field(default=30.0, ge=0)
    # Position intake (OsmAnd, batches): filters, and the buffered writer's period (0: no
    # background writer; the caller flushes, as tests do).
    position_max_accuracy_m: float = Field(default=100.0, gt=0)
    position_max_speed_kmh: float = Field(default=200.0, gt=0)
    osmand_speed_unit: Literal["knots", "kmh", "mps", "mph"] = "knots"
    position_flush_interval_s: float = Field(default=0.25, ge=0)
    # A device whose latest fix is older than this many seconds counts as offline.
    device_offline_after_s: int = Field(default=300, ge=10, le=86_400)
    # Geofence (离开网格) hysteresis: an on-duty officer counts as out of his grid after this many
    # consecutive fixes outside it spanning at least this many seconds.
    geofence_outside_fixes: int = Field(default=3, ge=1, le=100)
    geofence_outside_s: float = Field(default=60.0, ge=0, le=3600)
    # Dispatch recommendation (see urbanops.dispatch.recommend): network / straight distance,
    # how near a grid must lie to count as neighbouring, whether a neighbour who makes the
    # response limit goes before an own-grid officer who would not, whether officers of other
    # grids are offered when the own and neighbouring grids have nobody, and how long the
    # in-memory roster of officers is trusted before it is reloaded.
    dispatch_road_factor: float = Field(default=1.3, ge=1.0, le=3.0)
    dispatch_neighbour_distance_m: float = Field(default=50.0, ge=0, le=5_000)
    dispatch_prefer_in_limit: bool = True
    # Seconds of the response limit an officer needs to see and accept a task; the rest is the
    # travel budget an own-grid officer must make to keep his priority over a neighbour. Two
    # minutes covers a slow acceptance (about the 97th percentile of the simulator's delays,
    # median 40 s), not just a typical one (decision 0006).
    dispatch_accept_allowance_s: float = Field(default=120.0, ge=0, le=3600)
    dispatch_allow_other_grids: bool = True
    dispatch_roster_ttl_s: float = Field(default=30.0, ge=0)
    # Bytes kept free on the evidence store's disk: a file that would leave less is refused with
    # 507 before and after it is written, so the database and the logs on the same disk go on.
    evidence_min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # The EventBus across processes (urbanops.kit.transports): "local" keeps news in this
    # process (one process, SQLite); "postgres" sends it over LISTEN/NOTIFY of the database;
    # "redis" over Redis pub/sub at ``redis_url`` (when NOTIFY contends; see docs/deploy.md).
    event_bus: Literal["local", "postgres", "redis"] = "local"
    redis_url: str = "redis://127.0.0.1:6379/0"

    @field_validator("working_hours")
    @classmethod
    def _valid_working_hours(cls, value: str) -> str:
        from urbanops.kit.calendar import parse_working_hours

        parse_working_hours(value)  # raises a ValueError naming what is wrong
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.mode not in ("demo", "dev", "test") and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                "URBANOPS_SECRET_KEY is at its default; "
                "set a long random value outside demo/dev mode"
            )
        return self

    @property
    def console_on(self) -> bool:
        """Whether this process serves the console."""
        return self.console_enabled if self.console_enabled is not None else self.mode != "test"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
