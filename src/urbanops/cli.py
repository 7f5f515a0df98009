"""Command line: ``urbanops demo | serve | migrate | simulate | import-grids | create-user``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="urbanops — 城管执法指挥平台", no_args_is_help=True, add_completion=False)

DEMO_DB = Path("var/demo.db")
#: Seconds a stopping server waits for open requests and event streams before closing them.
GRACEFUL_SHUTDOWN_S = 5


def _settings():  # type: ignore[no-untyped-def]
    from urbanops.config import get_settings

    get_settings.cache_clear()
    return get_settings()


@app.command()
def migrate(revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
    """Bring the configured database to the latest schema (creates it when new)."""
    from urbanops import migrations
    from urbanops.kit.db import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine, revision)
    typer.echo(f"database at {engine.url.render_as_string(hide_password=True)} is at {revision}")
    engine.dispose()


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Serve the API and pages with uvicorn."""
    import uvicorn

    _settings()  # refuse a default secret before binding the port
    uvicorn.run(
        "urbanops.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,  # open event streams would hold it
    )


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    db: Annotated[Path, typer.Option(help="SQLite file of the demo")] = DEMO_DB,
    fresh: Annotated[bool, typer.Option(help="start from an empty database")] = True,
    serve_it: Annotated[bool, typer.Option("--serve/--no-serve", help="start the server")] = True,
    simulate_it: Annotated[
        bool,
        typer.Option("--simulate/--no-simulate", help="officers patrol and cases arrive, live"),
    ] = True,
    rate: Annotated[float, typer.Option(help="simulated reports per hour")] = 20.0,
) -> None:
    """A fresh SQLite database with the demo street 观湖 seeded, then the server (and the street
    alive: the simulator drives it over HTTP in real time unless ``--no-simulate``)."""
    from urbanops import migrations
    from urbanops.demo.street import DEMO_PASSWORD, seed_demo_street
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ["URBANOPS_MODE"] = "demo"
    os.environ["URBANOPS_DATABASE_URL"] = f"sqlite:///{db}"
    settings = _settings()
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    with unit_of_work(make_sessionmaker(engine)) as session:
        summary = seed_demo_street(session)
    typer.echo(f"demo street seeded: {summary}")
    typer.echo(f"sign in as admin / {DEMO_PASSWORD} (every demo account has this password)")
    if serve_it and simulate_it:
        from urbanops.demo.simulator import SimConfig, start_live

        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        start_live(
            base_url=f"http://{local}:{port}",
            factory=make_sessionmaker(engine),
            config=SimConfig(rate_per_hour=rate, poll_s=300.0),
        )
        typer.echo(f"simulator on: officers patrol, about {rate:g} reports an hour arrive")
    engine.dispose()
    if serve_it:
        typer.echo(f"serving at http://{host}:{port}  (API docs at /docs)")
        typer.echo(
            f"command centre: http://{host}:{port}/console/ (op01 operator, duty01 shift leader, "
            "leader01 leader, admin); grid officers' phone page: /officer/ (e.g. gh0101); "
            "citizens: /citizen"
        )
        serve(host=host, port=port, workers=1)


@app.command()
def simulate(
    hours: Annotated[float, typer.Option(min=0.1, max=24, help="simulated hours")] = 8.0,
    rate: Annotated[float, typer.Option(min=0.1, max=600, help="reports per hour")] = 20.0,
    officers_per_grid: Annotated[
        int | None,
        typer.Option(min=1, max=60, help="officers on duty per grid (default: the demo's plan)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same run)")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    database: Annotated[
        Path | None, typer.Option(help="keep the simulated database in this new SQLite file")
    ] = None,
) -> None:
    """Simulate a shift on the demo street (headless) and compare dispatching: the platform,
    a grid-only baseline and an optimal bound (share of emergencies reached in 5 minutes and
    handled in 10)."""
    import json

    from urbanops.demo.simulator import SimConfig, run

    config = SimConfig(
        hours=hours, rate_per_hour=rate, officers_per_grid=officers_per_grid, seed=seed
    )
    try:
        report = run(config, database=database, progress=lambda line: typer.echo(line, err=True))
    except FileExistsError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from exc
    if json_out:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(report.table())


@app.command("import-grids")
def import_grids(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    crs: Annotated[str, typer.Option(help="source CRS: wgs84, cgcs2000, gcj02 or bd09")],
    level: Annotated[str | None, typer.Option(help="force a level for every feature")] = None,
) -> None:
    """Import districts, streets, communities or unit grids (GeoJSON, zipped Shapefile, GPKG)."""
    from urbanops.areas import service as areas
    from urbanops.areas.codes import AreaLevel
    from urbanops.kit.actor import SYSTEM
    from urbanops.kit.clock import SystemClock
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work
    from urbanops.kit.errors import Problem

    settings = _settings()
    engine = make_engine(settings.database_url)
    if level is not None and level not in {lv.value for lv in AreaLevel}:
        typer.echo(
            f"unknown level; choose from {', '.join(lv.value for lv in AreaLevel)}", err=True
        )
        raise typer.Exit(2)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            report = areas.import_areas(
                session,
                data=file.read_bytes(),
                filename=file.name,
                crs=crs,
                level=AreaLevel(level) if level else None,
                by=SYSTEM,
                now=SystemClock().now(),
            )
    except Problem as exc:
        typer.echo(f"refused: {exc.detail or exc.title}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    created = ", ".join(f"{n} {lvl}" for lvl, n in report.created.items() if n) or "nothing new"
    updated = ", ".join(f"{n} {lvl}" for lvl, n in report.updated.items() if n) or "none"
    typer.echo(f"imported {report.total} features: created {created}; updated {updated}")
    for topo in report.topology:
        if topo.overlaps or topo.gaps:
            typer.echo(
                f"{topo.level} under {topo.parent or 'the top'}: "
                f"{len(topo.overlaps)} overlaps, {len(topo.gaps)} gaps"
            )


@app.command("create-user")
def create_user(
    username: str,
    role: Annotated[list[str], typer.Option("--role", help="role, repeatable")],
    display_name: Annotated[str | None, typer.Option(help="name shown in the console")] = None,
    grid: Annotated[list[str] | None, typer.Option("--grid", help="responsibility grid")] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a user with roles (and a grid scope for squad leaders and grid officers)."""
    from urbanops.auth import service as auth
    from urbanops.kit.actor import SYSTEM, Role
    from urbanops.kit.clock import SystemClock
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work
    from urbanops.kit.errors import Problem

    try:
        roles = [Role(r) for r in role]
    except ValueError as exc:
        typer.echo(f"unknown role; choose from {', '.join(r.value for r in Role)}", err=True)
        raise typer.Exit(2) from exc
    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            user = auth.create_user(
                session,
                username=username,
                password=password,
                display_name=display_name or username,
                roles=roles,
                grid_codes=grid or [],
                by=SYSTEM,
                now=SystemClock().now(),
            )
            typer.echo(f"created user {user.username} (id {user.id})")
    except Problem as exc:
        typer.echo(f"refused: {exc.detail or exc.title}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


if __name__ == "__main__":
    app()
