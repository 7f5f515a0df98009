"""Shipped data: the national catalogue rows and the default case standards (处置标准).

The catalogue comes from ``data/gbt47678-5-2026-catalogue.csv``: the 153 components (部件) and 250
matters (事项) of GB/T 47678.5-2026, as transcribed by a third party (GitHub
``Jackyhellolove/city-inspection-ai``, ``supabase-gb47678.5-directory.sql`` at commit 088839d9;
codes 01016, 05001, 05004–05008, 06031, 07005 and 09007 are absent there). The standard's own
text was not available, so names follow that transcription.

The default standards are written for this project, modelled on the 运城 illustrative limits and
the Shenzhen 五无 rules (domain-standards.md §1.3, §3.4, §3.6); they are local defaults that a
team edits, not national law.

Both are plain rows with no ORM, so that migration ``0002_catalog`` can insert them with
``op.bulk_insert`` and every fresh database holds the whole catalogue and its defaults.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any

from urbanops.kit.calendar import LimitUnit

STANDARD_REF = "GB/T 47678.5-2026"
CATALOGUE_CSV = "gbt47678-5-2026-catalogue.csv"
DEFAULT_VARIANT = "一般情形"
HANDLER = "街道综合行政执法队"
SANITATION = "环卫作业单位"
DEPARTMENT = "区城市管理和综合执法局"


class WuwuGoal(StrEnum):
    """The five goals of a 五无 street: which one a matter serves."""

    NO_OVER_DOORLINE = "无超门线"
    NO_STREET_VENDING = "无乱摆卖"
    NO_RETRACTABLE_AWNING = "无伸缩雨棚"
    NO_LIGHTBOX_AD = "无灯箱广告"
    NO_ILLEGAL_NEWSSTAND = "无违法设置报刊亭"


#: Matters (by code) that serve a 五无 goal; 01040 is the matter 报刊亭异常 of component 01040.
WUWU_MATTERS: dict[str, WuwuGoal] = {
    "09005": WuwuGoal.NO_OVER_DOORLINE,
    "09001": WuwuGoal.NO_STREET_VENDING,
    "09006": WuwuGoal.NO_STREET_VENDING,
    "06043": WuwuGoal.NO_RETRACTABLE_AWNING,
    "07003": WuwuGoal.NO_LIGHTBOX_AD,
    "07006": WuwuGoal.NO_LIGHTBOX_AD,
    "01040": WuwuGoal.NO_ILLEGAL_NEWSSTAND,
}

#: Words people on the street use for the common matters, added to the transcription's keywords.
MATTER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "01040": ("违法设置报刊亭", "报亭", "书报亭"),
    "06001": ("违建", "违法搭建", "乱搭建", "违章建筑"),
    "06007": ("乱晾晒", "晾晒衣物", "乱吊挂"),
    "06010": ("垃圾暴露", "乱扔垃圾", "散落垃圾"),
    "06012": ("路面脏", "路面污物", "道路脏乱"),
    "06036": ("乱堆物堆料", "乱堆放", "占道堆物"),
    "06043": ("伸缩雨棚", "雨棚", "遮阳棚", "遮阳伞", "雨篷"),
    "07001": ("牛皮癣", "野广告", "乱贴乱画", "乱张贴"),
    "07002": ("发传单", "派发传单", "散发传单"),
    "07003": ("灯箱广告", "灯箱", "霓虹灯", "电子屏", "广告牌"),
    "07006": ("招牌", "店招", "牌匾"),
    "09001": ("游商", "流动摊贩", "小贩", "走鬼"),
    "09002": ("夜市", "早市", "夜宵摊"),
    "09004": ("收废品", "废品收购", "废品站"),
    "09005": ("超门线", "出店经营", "跨门经营", "外摆", "门前摆卖"),
    "09006": ("乱摆卖", "摆摊", "摆摊设点", "路边摊"),
    "09009": ("乱停车", "违停"),
    "09010": ("单车乱停", "电动车乱停", "非机动车乱停"),
    "09012": ("堵塞消防通道", "消防通道"),
}


def _catalogue_lines() -> list[dict[str, str]]:
    """The packaged CSV, one dict a row."""
    text = resources.files("urbanops.catalog").joinpath("data", CATALOGUE_CSV).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _keywords(row: dict[str, str]) -> str:
    """The transcription's keywords plus our synonyms, ``|``-separated, without repeats."""
    words = [w for w in row["keywords"].split("|") if w]
    if row["kind"] == "matter":
        words += MATTER_SYNONYMS.get(row["code"], ())
    return "|".join(dict.fromkeys(words))


def national_catalogue_rows() -> list[dict[str, Any]]:
    """Rows for table ``catalog_entry``: all 403 entries of GB/T 47678.5-2026."""
    rows = []
    for line in _catalogue_lines():
        is_matter = line["kind"] == "matter"
        rows.append(
            {
                "kind": line["kind"],
                "code": line["code"],
                "major_code": line["major_code"],
                "major_name": line["major_name"],
                "name": line["name"],
                "component_code": line["component_code"] or None,
                "keywords": _keywords(line),
                "standard_ref": STANDARD_REF,
                "is_public": is_matter,
                "wuwu": WUWU_MATTERS[line["code"]].value
                if is_matter and line["code"] in WUWU_MATTERS
                else None,
            }
        )
    return rows


@dataclass(frozen=True)
class DefaultStandard:
    """One shipped case standard: conditions, limit and who handles it."""

    code: str
    registration: str
    closure: str
    amount: str
    unit: LimitUnit
    variant: str = DEFAULT_VARIANT
    handling_unit: str = HANDLER
    department: str = DEPARTMENT
    is_default: bool = True


U, H, D, N = LimitUnit.URGENT_HOUR, LimitUnit.WORK_HOUR, LimitUnit.WORK_DAY, LimitUnit.NATURAL_DAY

DEFAULT_STANDARDS: tuple[DefaultStandard, ...] = (
    DefaultStandard(
        "09001",
        "道路、广场等公共场所有无照流动摊贩兜售商品或提供服务",
        "游商已劝离或取缔，现场无摊点、无遗留物品",
        "2",
        U,
    ),
    DefaultStandard(
        "09002",
        "早（夜）市超出规定时段或划定区域经营，或收市后未清理现场",
        "已在规定时段和区域内经营，收市后现场清洁",
        "2",
        U,
    ),
    DefaultStandard(
        "09004",
        "未经许可在道路或公共场所收购、分拣、堆放废品",
        "废品已清走，占用的场地恢复原状",
        "1",
        D,
    ),
    DefaultStandard(
        "09005",
        "商铺超出门窗和外墙摆放商品、设施或跨门经营，且不在许可的外摆区域内",
        "物品已收回门线以内，现场无跨门经营",
        "2",
        U,
    ),
    DefaultStandard(
        "09006",
        "在划定的摊贩经营场所以外，占用道路、桥梁、广场等公共场所摆摊设点、销售商品",
        "摊点已撤离或取缔，占用的场地清理干净",
        "2",
        U,
    ),
    DefaultStandard(
        "09010",
        "自行车、电动自行车停放在停放区以外，妨碍通行或影响市容",
        "车辆已规范停放或移至停放点",
        "2",
        H,
    ),
    DefaultStandard(
        "09012",
        "车辆或物品占用、堵塞消防车通道或消防登高场地",
        "占用的车辆、物品已清离，消防通道畅通",
        "2",
        U,
    ),
    DefaultStandard(
        "07001",
        "墙面、设施上有张贴、喷涂或手写的小广告",
        "小广告已清除，表面恢复整洁",
        "1",
        D,
        handling_unit=SANITATION,
    ),
    DefaultStandard(
        "07002",
        "在街头、路口向行人散发广告传单",
        "散发行为已制止，散落的传单清理干净",
        "2",
        H,
    ),
    DefaultStandard(
        "07003",
        "未经许可设置或超出许可设置灯箱、霓虹灯、电子显示屏、展示牌等户外广告",
        "违规广告已拆除或按许可整改",
        "1",
        D,
        variant="灯箱、霓虹灯、电子屏",
    ),
    DefaultStandard(
        "07003",
        "未经许可设置立柱、墙体或楼顶户外广告",
        "违规广告已拆除，设置处恢复原状",
        "5",
        D,
        variant="立柱、墙体、楼顶广告",
        is_default=False,
    ),
    DefaultStandard(
        "07006",
        "牌匾标识未按规定设置，或破损、缺字、污损",
        "牌匾标识已整改或拆除",
        "2",
        D,
    ),
    DefaultStandard(
        "06001",
        "正在搭建未经批准的建筑物、构筑物",
        "施工已制止，现场恢复原状或已依法立案查处",
        "2",
        U,
        variant="正在建设",
    ),
    DefaultStandard(
        "06001",
        "已建成未经批准的建筑物、构筑物",
        "违法建筑已按法定程序拆除或依法处理完毕",
        "15",
        N,
        variant="已形成",
        is_default=False,
    ),
    DefaultStandard(
        "06007",
        "在沿街树木、护栏、路牌、电线杆等设施上吊挂、晾晒物品",
        "吊挂、晾晒的物品已清理",
        "2",
        U,
    ),
    DefaultStandard(
        "06010",
        "公共场所有未入容器的生活垃圾或散落垃圾",
        "垃圾已清运，现场干净",
        "4",
        H,
        handling_unit=SANITATION,
    ),
    DefaultStandard(
        "06012",
        "道路、人行道上有明显污物、积存垃圾或油污",
        "路面已清扫干净",
        "2",
        H,
        handling_unit=SANITATION,
    ),
    DefaultStandard(
        "06036",
        "未经许可在道路或公共场所堆放物料、杂物",
        "堆放物已清除，场地恢复原状",
        "1",
        D,
    ),
    DefaultStandard(
        "06043",
        "临街遮阳篷、雨棚、遮阳伞破损、脱落或有坠落危险",
        "已修复或拆除，无坠落危险",
        "2",
        D,
    ),
    DefaultStandard(
        "06043",
        "临街商铺擅自设置伸缩雨棚、遮阳篷",
        "违规雨棚、遮阳篷已拆除",
        "3",
        D,
        variant="违规设置伸缩雨棚",
        is_default=False,
    ),
    DefaultStandard(
        "01040",
        "未经批准设置报刊亭，或报刊亭超出核准的位置、面积",
        "违法设置的报刊亭已拆除，或已恢复到核准状态",
        "3",
        D,
        variant="违法设置",
    ),
    DefaultStandard(
        "01040",
        "报刊亭破损、脏污，或超范围经营、外摆物品",
        "报刊亭已修复、清洁，经营恢复规范",
        "2",
        D,
        variant="破损或超范围经营",
        is_default=False,
    ),
)


def default_standard_rows(
    matter_ids: dict[str, int], *, by: str, at: datetime
) -> list[dict[str, Any]]:
    """Rows for table ``case_standard``: the shipped defaults, stamped by ``by`` at ``at``."""
    return [
        {
            "matter_id": matter_ids[s.code],
            "variant": s.variant,
            "registration_condition": s.registration,
            "closure_condition": s.closure,
            "limit_amount": Decimal(s.amount),
            "limit_unit": s.unit.value,
            "handling_unit": s.handling_unit,
            "responsible_department": s.department,
            "is_default": s.is_default,
            "dedupe_radius_m": 50,
            "dedupe_window_h": 24,
            "created_at": at,
            "created_by": by,
            "updated_at": None,
            "updated_by": None,
        }
        for s in DEFAULT_STANDARDS
    ]
