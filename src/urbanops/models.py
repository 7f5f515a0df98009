"""Imports every module's tables so that ``Base.metadata`` and Alembic see them all."""

from urbanops.alerts import models as alerts_models
from urbanops.areas import models as areas_models
from urbanops.auth import models as auth_models
from urbanops.cases import followup_models
from urbanops.cases import models as cases_models
from urbanops.catalog import channel_models
from urbanops.catalog import models as catalog_models
from urbanops.citizen import models as citizen_models
from urbanops.dispatch import models as dispatch_models
from urbanops.kit import calendar_models, revision
from urbanops.video import models as video_models
from urbanops.workforce import models as workforce_models
from urbanops.workforce import positions_models

__all__ = [
    "alerts_models",
    "areas_models",
    "auth_models",
    "calendar_models",
    "cases_models",
    "catalog_models",
    "channel_models",
    "citizen_models",
    "dispatch_models",
    "followup_models",
    "positions_models",
    "revision",
    "video_models",
    "workforce_models",
]
