"""Messages of the officer pages (merged into the one catalogue by ui.messages).

The grid officer's phone (网格员移动端): my tasks, one task (accept, handle with photos, return
or ask to put on hold with a reason), report a problem (巡查上报), the SOS button (紧急求助).
Keys under ``officer.js.``, ``officer.unit.`` and ``officer.countdown.`` go to the page script
as well; the SOS and reason texts are rendered into the page's markup (the script reads them
there), so the script's message block on every page stays small.
"""

from __future__ import annotations

ENTRIES: dict[str, tuple[str, str]] = {
    # the frame
    "officer.app": ("网格员工作台", "Grid officer"),
    "officer.nav.tasks": ("我的任务", "My tasks"),
    "officer.nav.report": ("巡查上报", "Report a problem"),
    "officer.position.idle": ("位置未上报", "Position not sent"),
    "officer.forbidden.title": ("无权访问", "Not allowed"),
    "officer.forbidden.text": (
        "此页面仅供网格员使用。请用网格员账号登录。",
        "This page is for grid officers. Please sign in with a grid officer's account.",
    ),
    "officer.forbidden.sign_in": ("换个账号登录", "Sign in as someone else"),
    "officer.forbidden.console": ("进入指挥中心", "Go to the command centre"),
    # the task list
    "officer.tasks.title": ("我的任务", "My tasks"),
    "officer.tasks.none": ("暂无待办任务", "No tasks for you now"),
    "officer.task.emergency": ("紧急", "Urgent"),
    "officer.task.rework": ("返工", "Rework"),
    "officer.state.reported": ("待立案", "Reported"),
    "officer.state.registered": ("待派遣", "Registered"),
    "officer.state.rejected": ("不予立案", "Rejected"),
    "officer.state.dispatched": ("待签收", "To accept"),
    "officer.state.accepted": ("处置中", "Handling"),
    "officer.state.handled": ("待核查", "Handled, to be checked"),
    "officer.state.checked": ("待结案", "Checked"),
    "officer.state.closed": ("已结案", "Closed"),
    "officer.state.suspended": ("挂账", "On hold"),
    "officer.stage.verify": ("核实时限", "Verify within"),
    "officer.stage.register": ("立案时限", "Register within"),
    "officer.stage.dispatch": ("派遣时限", "Dispatch within"),
    "officer.stage.respond": ("签收时限", "Accept within"),
    "officer.stage.handle": ("处置时限", "Handle within"),
    "officer.stage.check": ("核查时限", "Check within"),
    "officer.stage.close": ("结案时限", "Close within"),
    "officer.stage.None": ("时限", "Due"),
    "officer.countdown.left": ("剩余{t}", "{t} left"),
    "officer.countdown.over": ("已超时{t}", "{t} overdue"),
    # a unit's trailing space separates it from the next figure ("3d 4h", "3天4小时")
    "officer.unit.d": ("天", "d "),
    "officer.unit.h": ("小时", "h "),
    "officer.unit.m": ("分", "m "),
    "officer.unit.s": ("秒", "s "),
    # one task
    "officer.task.missing": ("没有这个任务", "No such task"),
    "officer.task.number": ("案件编号", "Case number"),
    "officer.task.address": ("地址", "Address"),
    "officer.task.reported_at": ("上报时间", "Reported"),
    "officer.task.open_map": ("导航（地图应用）", "Open in the map app"),
    "officer.task.open_amap": ("高德地图", "AMap"),
    "officer.task.accept": ("签收", "Accept"),
    "officer.handle.title": ("处置反馈", "Report the result"),
    "officer.handle.photos": ("处置后照片（必拍，最多4张）", "Photos after (required, up to 4)"),
    "officer.handle.note": ("处置说明", "What was done"),
    "officer.handle.note_hint": (
        "例如：已劝离摊贩，现场恢复整洁",
        "e.g. the stall left, the pavement is clear",
    ),
    "officer.handle.submit": ("提交处置结果", "Send the result"),
    "officer.handle.done": (
        "已提交处置结果，等待核查。",
        "The result is sent and waits for the check.",
    ),
    # return a task (回退) or ask to put it on hold (申请挂账), each with a reason
    "officer.return.open": ("回退", "Return"),
    "officer.return.title": ("回退任务", "Return the task"),
    "officer.return.reason": ("回退原因（必填）", "Why do you return it? (required)"),
    "officer.return.hint": (
        "例如：不属于本网格，或不属于城管职责",
        "e.g. not in my grid, or not a matter for urban management",
    ),
    "officer.return.submit": ("确认回退", "Return it"),
    "officer.return.done": (
        "已回退，正在返回任务列表…",
        "Returned; going back to your tasks…",
    ),
    "officer.suspend.open": ("申请挂账", "Ask to put on hold"),
    "officer.suspend.title": ("申请挂账", "Ask to put the task on hold"),
    "officer.suspend.reason": ("挂账原因（必填）", "Why can it not be dealt with now? (required)"),
    "officer.suspend.hint": (
        "例如：需等待产权单位配合，暂时无法处置",
        "e.g. the owner of the place must act first",
    ),
    "officer.suspend.submit": ("提交申请", "Send the request"),
    "officer.suspend.done": (
        "已申请挂账，等待值班长审批",
        "On-hold requested; waiting for the shift leader's approval",
    ),
    "officer.reason.cancel": ("取消", "Cancel"),
    "officer.reason.required": ("请填写原因", "Please give the reason"),
    "officer.reason.changed": (
        "任务已被他人更新，页面即将刷新…",
        "Someone changed the task meanwhile; reloading…",
    ),
    # SOS (紧急求助): in the header of every page, sent with the second tap
    "officer.sos.button": ("SOS", "SOS"),
    "officer.sos.title": ("紧急求助：连按两次发出", "Emergency: tap twice to send"),
    "officer.sos.confirm": ("再按一次 SOS 发出求助", "Tap SOS again to send it"),
    "officer.sos.sending": ("正在发出求助…", "Sending the SOS…"),
    "officer.sos.sent": (
        "已发出求助，指挥中心已收到您的位置",
        "SOS sent: the command centre has your position",
    ),
    "officer.sos.failed": (
        "求助未能发出！请立即打电话向指挥中心求助",
        "The SOS was not sent! Call the command centre now",
    ),
    "officer.sos.no_position": (
        "已发出求助，但无法定位！请立即打电话告知指挥中心您的位置",
        "SOS sent without your position! Call the command centre and say where you are",
    ),
    # report a problem (巡查上报)
    "officer.report.title": ("巡查上报", "Report a problem"),
    "officer.report.matter": ("问题类型", "Kind of problem"),
    "officer.report.description": ("问题描述", "Description"),
    "officer.report.description_hint": (
        "例如：XX路口有流动摊贩占道经营",
        "e.g. a mobile stall blocks the pavement at the crossing",
    ),
    "officer.report.photos": ("现场照片（最多4张）", "Photos (up to 4)"),
    "officer.report.address": ("地址或参照物（选填）", "Address or landmark (optional)"),
    "officer.report.locate": ("重新定位", "Locate again"),
    "officer.report.emergency": ("紧急（需立即处置）", "Urgent (needs action now)"),
    "officer.report.submit": ("上报", "Send"),
    "officer.report.done": ("已上报", "Reported"),
    "officer.report.number": ("案件编号：", "Case number: "),
    "officer.report.another": ("再报一个", "Report another"),
    # the page script
    "officer.js.offline": (
        "网络已断开：页面显示的可能不是最新的，恢复后自动刷新。",
        "Offline: what you see may be out of date; it refreshes when the connection is back.",
    ),
    "officer.js.new_task": ("有新任务！", "New task!"),
    "officer.js.refresh_failed": (
        "任务列表刷新失败，稍后自动重试。",
        "Could not refresh the tasks; trying again shortly.",
    ),
    "officer.js.accepting": ("正在签收…", "Accepting…"),
    "officer.js.uploading": ("正在上传照片 {n}/{total}…", "Uploading photo {n} of {total}…"),
    "officer.js.sending": ("正在提交…", "Sending…"),
    "officer.js.photo_required": ("请先拍摄处置后照片", "Please take a photo of the result first"),
    "officer.js.too_many_photos": ("最多4张照片", "At most 4 photos"),
    "officer.js.description_required": ("请描述一下问题", "Please describe the problem"),
    "officer.js.locating": ("正在定位…", "Finding your position…"),
    "officer.js.position_here": ("当前位置", "Position"),
    "officer.js.position_required": (
        "还没有定位，请允许定位后点“重新定位”",
        "No position yet: allow location and tap “Locate again”",
    ),
    "officer.js.position_sent": ("位置已上报", "Position sent"),
    "officer.js.position_denied": ("定位不可用", "Location not available"),
    "officer.js.position_failed": ("位置上报失败", "Could not send the position"),
    "officer.js.error.unauthorized": (
        "登录已过期，请重新登录",
        "Your sign-in has expired; please sign in again",
    ),
    "officer.js.error.transition_not_allowed": (
        "任务状态已变化，请刷新页面",
        "The task has changed meanwhile; please reload",
    ),
    "officer.js.error.concurrent_update": (
        "任务已被他人更新，请刷新页面",
        "Someone changed the task meanwhile; please reload",
    ),
    "officer.js.error.not_assigned_officer": (
        "这不是派给您的任务",
        "This task is not assigned to you",
    ),
}
