"""Messages of the console's frame and sign-in (the shell every console page shares)."""

from __future__ import annotations

ENTRIES: dict[str, tuple[str, str]] = {
    "console.name": ("城管执法指挥中心", "Urban management command centre"),
    "console.nav.home": ("指挥调度", "Command"),
    "console.nav.intake": ("受理登记", "Intake"),
    "console.nav.cases": ("案件", "Cases"),
    "console.nav.board": ("领导看板", "Leaders' board"),
    "console.nav.admin": ("系统管理", "Administration"),
    "console.nav.officer": ("我的任务", "My tasks"),
    "console.signed_in_as": ("当前用户", "Signed in as"),
    "console.sign_out": ("退出", "Sign out"),
    "console.forbidden.title": ("无权访问", "Not allowed"),
    "console.forbidden.text": (
        "您的角色不能打开这个页面。",
        "Your role may not open this page.",
    ),
    "login.title": ("登录", "Sign in"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码不正确", "Wrong user name or password"),
    "login.locked": ("尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    "login.offline": ("无法连接服务器，请检查网络", "The server cannot be reached"),
}
