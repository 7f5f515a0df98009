"""Messages for the services' refusals (``Problem.code``) as the console shows them.

The API answers in English ``application/problem+json`` with a stable ``code``; the console
looks the code up here (``problem.<code>``) so an operator reads why in his own language. A code
missing here is shown with the service's English detail behind a translated "not done"
(``messages.problem_text``). Codes that refer to one row or feature of an uploaded file keep
the service's detail beside the message: it names the row.
"""

from __future__ import annotations

ENTRIES: dict[str, tuple[str, str]] = {
    # areas: grids and their import (网格)
    "problem.area_not_found": ("没有这个网格", "No such grid"),
    "problem.coordinates_out_of_range": ("坐标超出范围", "Coordinates out of range"),
    "problem.duplicate_code": ("网格编码重复", "A grid code appears twice"),
    "problem.duplicate_officer": ("该队员已在此责任网格", "The officer is already in this grid"),
    "problem.invalid_geometry": ("网格图形无效", "A grid's shape is not valid"),
    "problem.invalid_grid_code": ("网格编码不符合规则", "A grid code breaks the coding rules"),
    "problem.invalid_responsibility_grid_code": (
        "责任网格编码不符合规则",
        "The responsibility grid's code breaks the rules",
    ),
    "problem.level_mismatch": ("网格层级与编码不符", "The grid's level does not match its code"),
    "problem.malformed_file": ("文件无法读取", "The file cannot be read"),
    "problem.missing_code": ("缺少网格编码", "A grid has no code"),
    "problem.not_a_street": ("上级不是街道", "The parent is not a street"),
    "problem.responsibility_grid_exists": ("该责任网格已存在", "This responsibility grid exists"),
    "problem.responsibility_grid_not_found": ("没有这个责任网格", "No such responsibility grid"),
    "problem.several_leaders": ("一个责任网格只能有一名网格长", "A grid has one leader at most"),
    "problem.unit_grid_outside_street": (
        "单元网格超出所属街道范围",
        "A unit grid lies outside its street",
    ),
    "problem.unit_grid_taken": ("单元网格已属于其他责任网格", "The unit grid belongs elsewhere"),
    "problem.unknown_parent": ("上级网格不存在", "The parent grid does not exist"),
    "problem.unknown_unit_grid": ("单元网格不存在", "No such unit grid"),
    "problem.unsupported_format": (
        "不支持的文件格式（可用 GeoJSON、Shapefile 压缩包、GeoPackage）",
        "Unsupported file (GeoJSON, zipped Shapefile or GeoPackage)",
    ),
    "problem.unknown_crs": ("无法识别的坐标系", "Unknown coordinate system"),
    "problem.invalid_bbox": ("地图范围无效", "Invalid map box"),
    "problem.grid_not_polygon": ("网格必须是面", "A grid must be a polygon"),
    "problem.duplicate_grid_key": ("网格编码重复", "A grid code appears twice"),
    # users, roles and keys (用户与角色)
    "problem.api_key_not_found": ("没有这个密钥", "No such key"),
    "problem.cannot_demote_self": (
        "不能取消自己的管理员角色",
        "You cannot take the administrator role from yourself",
    ),
    "problem.grid_out_of_scope": ("网格不在管辖范围内", "The grid is outside the jurisdiction"),
    "problem.invalid_principal_kind": ("密钥类型无效", "Invalid kind of key"),
    "problem.invalid_username": (
        "用户名只能用字母、数字、点、横线和下划线",
        "A username uses letters, digits, dots, dashes and underscores",
    ),
    "problem.password_too_short": ("密码太短", "The password is too short"),
    "problem.role_not_for_keys": ("该角色不能授予密钥", "This role is not for keys"),
    "problem.role_not_for_users": ("该角色不能授予用户", "This role is not for users"),
    "problem.unknown_role": ("没有这个角色", "No such role"),
    "problem.user_not_found": ("没有这个用户", "No such user"),
    "problem.username_taken": ("用户名已被使用", "The username is taken"),
    # the catalogue, standards and channels (目录、立案结案标准、渠道)
    "problem.bad_amount": ("时限必须是大于0的数", "The time limit must be a number above 0"),
    "problem.case_standard_not_found": ("没有这个立案标准", "No such case standard"),
    "problem.case_standard_variant_exists": ("该情形已存在", "This variant exists"),
    "problem.catalog_entry_not_found": ("目录中没有这一项", "Not in the catalogue"),
    "problem.channel_not_found": ("没有这个渠道", "No such channel"),
    "problem.default_rule_protected": ("默认规则不能删除", "The default rule cannot be removed"),
    "problem.duplicate_report_field": ("必填项重复", "A field is listed twice"),
    "problem.invalid_legacy_code": ("旧标准编码无效", "Invalid code of the old standard"),
    "problem.invalid_matter_code": ("事项编码无效", "Invalid matter code"),
    "problem.legacy_code_not_in_catalogue": (
        "旧标准编码不在目录中",
        "The old code is not in the catalogue",
    ),
    "problem.no_legacy_counterpart": ("旧标准中没有对应编码", "No counterpart in the old standard"),
    "problem.not_xlsx": ("请上传 Excel（.xlsx）文件", "Please upload an Excel (.xlsx) file"),
    "problem.null_not_allowed": ("该项不能为空", "This value cannot be empty"),
    "problem.sla_rule_not_found": ("没有这条时限规则", "No such time-limit rule"),
    "problem.unknown_matter": ("没有这个事项", "No such matter"),
    "problem.unknown_report_field": ("没有这个上报字段", "No such report field"),
    "problem.unknown_sla_profile": ("没有这个时限方案", "No such time-limit profile"),
    "problem.unknown_sla_stage": ("没有这个环节", "No such stage"),
    "problem.xlsx_missing_columns": ("表格缺少必需的列", "The sheet lacks required columns"),
    "problem.xlsx_rows_invalid": ("表格中有无效的行", "Some rows of the sheet are not valid"),
    "problem.xlsx_too_large": ("表格文件太大", "The sheet is too large"),
    "problem.xlsx_too_many_rows": ("表格行数太多", "The sheet has too many rows"),
    "problem.xlsx_unreadable": ("表格无法读取", "The sheet cannot be read"),
    # the working calendar (工作日历)
    "problem.override_exists": ("该日期已有调整", "This day is already set"),
    "problem.override_not_found": ("该日期没有调整", "This day has no setting"),
    "problem.range_too_long": ("日期范围太长", "The range of days is too long"),
    "problem.reversed_range": ("结束日期早于开始日期", "The range ends before it starts"),
    "problem.invalid_date": ("日期无效", "Invalid date"),
    # officers, squads and devices (队员、中队、终端)
    "problem.certificate_taken": ("执法证号已被使用", "The certificate number is taken"),
    "problem.device_binding_ambiguous": (
        "终端只能绑定一名队员或一辆车",
        "A device is bound to one officer or one vehicle",
    ),
    "problem.device_identifier_taken": ("终端编号已被使用", "The device identifier is taken"),
    "problem.device_not_found": ("没有这个终端", "No such device"),
    "problem.field_required": ("请填写必填项", "A required field is empty"),
    "problem.invalid_shift_times": ("班次时间无效", "The shift's times are not valid"),
    "problem.officer_exists": ("该用户已是队员", "This user is already an officer"),
    "problem.officer_not_found": ("没有这个队员", "No such officer"),
    "problem.shift_overlaps": ("班次时间重叠", "The shift overlaps another"),
    "problem.squad_code_taken": ("中队编码已被使用", "The squad code is taken"),
    "problem.squad_not_found": ("没有这个中队", "No such squad"),
    "problem.travel_mode_required": ("请选择出行方式", "Choose a travel mode"),
    "problem.unknown_grid": ("没有这个网格", "No such grid"),
    "problem.unknown_squad": ("没有这个中队", "No such squad"),
    "problem.unknown_user": ("没有这个用户", "No such user"),
    # any service
    "problem.invalid_input": ("输入有误", "Invalid input"),
    "problem.value_out_of_range": ("数值超出范围", "A value is out of range"),
    "problem.database_unavailable": (
        "数据库暂时不可用，请稍后再试",
        "The database is unavailable; try again shortly",
    ),
    "problem.with_detail": ("{message}（{detail}）", "{message} ({detail})"),
    "problem.unknown": ("{detail}", "{detail}"),
    "problem.invalid_fields": ("以下内容有误：{fields}", "Check these fields: {fields}"),
}

#: Codes whose detail names the row, feature or value at fault: shown beside the message.
DETAILED = frozenset(
    {
        "duplicate_code",
        "duplicate_grid_key",
        "invalid_geometry",
        "invalid_grid_code",
        "level_mismatch",
        "malformed_file",
        "missing_code",
        "unit_grid_outside_street",
        "unknown_parent",
        "unknown_unit_grid",
        "unit_grid_taken",
        "grid_not_polygon",
        "unknown_crs",
        "xlsx_missing_columns",
        "xlsx_rows_invalid",
        "invalid_input",
    }
)
