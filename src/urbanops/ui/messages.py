"""The message catalogue: every user-facing string of the pages, Chinese first, English beside it.

One entry per key, both languages side by side, so a missing translation cannot hide. The
citizen page uses the ``citizen.``, ``matter.``, ``status.``, ``fms.``, ``rating.``, ``note.``
and ``error.`` keys. The console's and the officer's page areas keep their keys in their own
files (``messages_<area>.py``), merged here into the one catalogue; a key defined twice fails
at import.
"""

from __future__ import annotations

from collections.abc import Iterable

from urbanops.ui import (
    messages_board,
    messages_case,
    messages_console,
    messages_home,
    messages_officer,
    messages_problems,
)

ZH = "zh-CN"
EN = "en"
LANGUAGES = (ZH, EN)
DEFAULT_LANGUAGE = ZH

#: key → (zh-CN, en)
ENTRIES: dict[str, tuple[str, str]] = {
    # the page's frame
    "app.name": ("城管随手拍", "Report a street problem"),
    "app.street": ("观湖街道综合行政执法队", "Guanhu street law-enforcement team"),
    "lang.other": ("English", "中文"),
    "lang.other_code": ("en", "zh-CN"),
    "nav.report": ("我要反映", "Report"),
    "nav.track": ("查询进度", "Track"),
    # the report form (市民上报)
    "citizen.report.title": ("反映一个问题", "Report a problem"),
    "citizen.report.intro": (
        "拍照、选位置、说一句，城管队员会去处理。",
        "Take a photo, mark the place, say what is wrong: an officer will deal with it.",
    ),
    "citizen.report.matter": ("问题类型", "What kind of problem"),
    "citizen.report.description": ("问题描述", "Description"),
    "citizen.report.description_hint": (
        "例如：路口有人摆摊卖水果，占了人行道",
        "e.g. a fruit stall is blocking the pavement at the crossing",
    ),
    "citizen.report.photos": ("照片（最多4张）", "Photos (up to 4)"),
    "citizen.report.photos_hint": ("可直接拍照", "You may take them now"),
    "citizen.report.position": ("位置", "Place"),
    "citizen.report.use_my_position": ("使用我的位置", "Use my position"),
    "citizen.report.locating": ("正在定位…", "Finding your position…"),
    "citizen.report.position_denied": (
        "无法获取定位，请在下方地图上点选位置。",
        "Your position is not available; tap the place on the map below.",
    ),
    "citizen.report.map_hint": ("或在地图上点选问题所在位置", "or tap the place on the map"),
    "citizen.report.position_set": ("已选位置", "Place chosen"),
    "citizen.report.position_missing": ("请先确定位置", "Please mark the place first"),
    "citizen.report.address": ("地址或参照物（选填）", "Address or landmark (optional)"),
    "citizen.report.contact": ("联系方式（选填，不会公开）", "Contact (optional, never shown)"),
    "citizen.report.name": ("称呼", "Name"),
    "citizen.report.phone": ("手机号", "Mobile number"),
    "citizen.report.submit": ("提交", "Send"),
    "citizen.report.sending": ("正在提交…", "Sending…"),
    "citizen.report.done": ("已收到，谢谢！", "Received, thank you!"),
    "citizen.report.tracking_id": ("查询码", "Tracking id"),
    "citizen.report.keep_it": (
        "请保存查询码，凭它查看办理进度并评价。",
        "Keep this tracking id: it shows the progress and lets you rate the result.",
    ),
    "citizen.report.open_tracking": ("查看进度", "See the progress"),
    "citizen.report.another": ("再反映一个", "Report another"),
    # the tracking page
    "citizen.track.title": ("办理进度", "Progress"),
    "citizen.track.enter": ("输入查询码", "Enter your tracking id"),
    "citizen.track.open": ("查询", "Look up"),
    "citizen.track.mine": ("我反映过的问题", "My reports"),
    "citizen.track.not_found": (
        "没有找到这个查询码，请检查后重试。",
        "No report has this tracking id; please check it.",
    ),
    "citizen.track.number": ("案件编号", "Case number"),
    "citizen.track.status": ("状态", "Status"),
    "citizen.track.matter": ("问题类型", "Problem"),
    "citizen.track.reported_at": ("反映时间", "Reported"),
    "citizen.track.expected_at": ("预计办结", "Expected by"),
    "citizen.track.agency": ("处置单位", "Handled by"),
    "citizen.track.steps": ("办理过程", "Steps"),
    "citizen.track.report_photos": ("问题照片", "Photos of the problem"),
    "citizen.track.after_photos": ("处置后照片", "Photos of the result"),
    "citizen.track.rate": ("请评价处理结果", "How was the result?"),
    "citizen.track.comment": ("意见（选填）", "Comment (optional)"),
    "citizen.track.rated": ("您的评价：", "Your rating: "),
    "citizen.track.thanks": ("感谢您的评价！", "Thank you for your rating!"),
    "citizen.track.reopened": (
        "已重新办理，我们会再次处理。",
        "The case is reopened; we will deal with it again.",
    ),
    # public statuses (cases.public)
    "status.open": ("办理中", "Open"),
    "status.closed": ("已办结", "Closed"),
    "fms.open": ("已受理", "Received"),
    "fms.investigating": ("核实中", "Being checked"),
    "fms.action_scheduled": ("已安排处置", "Action scheduled"),
    "fms.in_progress": ("处置中", "In progress"),
    "fms.fixed": ("已办结", "Fixed"),
    "fms.closed": ("已关闭", "Closed"),
    "fms.duplicate": ("已合并办理", "Merged with the same problem"),
    "fms.not_councils_responsibility": ("不属本辖区", "Outside our area"),
    "fms.no_further_action": ("无需处置", "No further action"),
    "fms.internal_referral": ("已转办", "Referred"),
    # ratings (回访)
    "rating.satisfied": ("满意", "Satisfied"),
    "rating.basically_satisfied": ("基本满意", "Basically satisfied"),
    "rating.unsatisfied": ("不满意", "Unsatisfied"),
    # public wording of timeline steps, in English (the Chinese is cases.public.PUBLIC_WORDING)
    "note.report": ("已收到您的反映，等待受理", "Your report was received"),
    "note.merge_report": ("又收到一次同一问题的反映，合并办理", "Reported again by someone else"),
    "note.verify": ("正在核实", "Being checked on site"),
    "note.register": ("已立案，等待派遣", "Accepted as a case"),
    "note.reject": ("经核实，不予立案", "Not taken up after checking"),
    "note.merged": ("与同一问题的另一案件合并办理", "Merged with another case of the same problem"),
    "note.dispatch": ("已派遣执法队员处置", "An officer was sent"),
    "note.redispatch": ("已改派执法队员处置", "Another officer was sent"),
    "note.accept": ("执法队员已签收，正在处置", "The officer is on it"),
    "note.handle": ("已处置，等待核查", "Dealt with, being checked"),
    "note.check": ("核查通过，等待结案", "Checked"),
    "note.rework": ("核查未通过，重新处置", "Being dealt with again"),
    "note.close": ("已办结", "Closed"),
    "note.suspend": ("暂缓处置", "On hold"),
    "note.resume": ("恢复办理", "Resumed"),
    "note.reopen": ("重新办理", "Reopened"),
    "note.followup.satisfied": ("回访评价：满意", "Rated: satisfied"),
    "note.followup.basically_satisfied": ("回访评价：基本满意", "Rated: basically satisfied"),
    "note.followup.unsatisfied": ("回访评价：不满意", "Rated: unsatisfied"),
    # matters a citizen picks from (plain names; the catalogue's codes in citizen.service)
    "matter.09006": ("路边摆摊", "Street stall"),
    "matter.09005": ("商铺占道经营（超出门线）", "Shop goods on the pavement"),
    "matter.09009": ("机动车乱停放", "Badly parked car"),
    "matter.09010": ("单车、电动车乱停放", "Badly parked bikes"),
    "matter.06010": ("垃圾无人清理", "Rubbish left lying"),
    "matter.06042": ("垃圾桶满溢", "Overflowing bins"),
    "matter.07001": ("乱贴小广告", "Fly-posting"),
    "matter.06028": ("噪音扰民", "Noise"),
    "matter.06027": ("油烟污染", "Cooking fumes"),
    "matter.06029": ("露天烧烤", "Open-air barbecue"),
    "matter.08001": ("施工扰民", "Building-site nuisance"),
    "matter.06013": ("道路破损", "Damaged road or pavement"),
    "matter.06001": ("私搭乱建", "Illegal structure"),
    "matter.other": ("其他问题", "Something else"),
    # errors, by the problem's code
    "error.generic": ("出错了，请稍后再试。", "Something went wrong; please try again."),
    "error.network": ("网络不畅，请稍后再试。", "No connection; please try again."),
    "error.description_required": ("请描述一下问题", "Please describe the problem"),
    "error.position_required": ("请先确定位置", "Please mark the place first"),
    "error.too_large": ("照片太大（每张最多10MB）", "A photo is too large (10 MB at most)"),
    "error.not_a_photo": ("只能上传照片", "Only photos can be sent"),
    "error.type_mismatch": ("文件与其类型不符", "The file is not what its name says"),
    "error.too_many_photos": ("最多4张照片", "At most 4 photos"),
    "error.too_many_requests": ("提交太频繁，请稍后再试", "Too many attempts; try again later"),
    "error.tracking_id_not_found": (
        "没有找到这个查询码，请检查后重试。",
        "No report has this tracking id; please check it.",
    ),
    "error.followup_not_due": ("办结后才能评价", "You can rate once the case is closed"),
    "error.already_rated": ("已经评价过了", "This result is already rated"),
}


def _merge(*sections: dict[str, tuple[str, str]]) -> None:
    """Add each page area's section (its own file, so areas grow apart) to the one catalogue."""
    for section in sections:
        clash = ENTRIES.keys() & section.keys()
        if clash:
            raise RuntimeError(f"message keys defined twice: {sorted(clash)}")
        ENTRIES.update(section)


_merge(
    messages_console.ENTRIES,
    messages_home.ENTRIES,
    messages_case.ENTRIES,
    messages_board.ENTRIES,
    messages_officer.ENTRIES,
    messages_problems.ENTRIES,
)

MESSAGES: dict[str, dict[str, str]] = {
    lang: {key: pair[i] for key, pair in ENTRIES.items()} for i, lang in enumerate(LANGUAGES)
}


def normalise(lang: str | None) -> str | None:
    """A known language from a tag such as ``en-GB`` or ``zh``; None when not one of ours."""
    if not lang:
        return None
    tag = lang.strip().lower()
    if tag.startswith("en"):
        return EN
    if tag.startswith("zh"):
        return ZH
    return None


def t(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """The message ``key`` in ``lang``; the key itself if unknown (visible, never a crash)."""
    return MESSAGES.get(lang, MESSAGES[DEFAULT_LANGUAGE]).get(key, key)


def subset(lang: str, prefixes: Iterable[str]) -> dict[str, str]:
    """The messages whose keys start with one of ``prefixes`` (for a page's script)."""
    wanted = tuple(prefixes)
    return {k: v for k, v in MESSAGES[lang].items() if k.startswith(wanted)}


def problem_text(code: str | None, detail: str, lang: str, *, area: str = "") -> str:
    """A service's refusal (its ``Problem.code`` and English ``detail``) in ``lang``.

    The page's own message (``<area>.error.<code>``) first, then the shared one
    (``problem.<code>``, with the detail beside it where it names the row at fault), else the
    detail as the service wrote it.
    """
    for key in (f"{area}.error.{code}" if area else "", f"problem.{code}"):
        if key and key in MESSAGES[lang]:
            message = MESSAGES[lang][key]
            if key.startswith("problem.") and code in messages_problems.DETAILED and detail:
                return t("problem.with_detail", lang).format(message=message, detail=detail)
            return message
    return t("problem.unknown", lang).format(detail=detail)
