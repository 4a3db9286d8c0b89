"""The government service platform (政务服务网 / 网上办事大厅) of a unit.

On a unit with a platform it is its own site; otherwise the same pages live under ``/zwfw/`` of
the portal. Service items are guide pages (办事指南) in domain columns (住房保障, 社会保障, …) with a
事项编码, labelled guide elements, a 网上办理深度 and, when the item can be handled online, a
在线办理 link to a form page. The home page carries the quick links (公积金查询, 预约挂号, 社保卡服务 …)
of the features the unit has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from govindex.synth.web import vocab as V
from govindex.synth.web.build import Builder, render_file, render_text
from govindex.synth.web.html import Ctx, a, esc, fields, paragraphs, rng_for, ul
from govindex.synth.web.model import Page, Site

GUIDE_ELEMENTS = [("guide_conditions", "受理条件", "符合法定条件的申请人"),
                  ("guide_materials", "申请材料", "申请表、身份证明"),
                  ("guide_time_limit", "承诺时限", "5个工作日"), ("guide_fee", "收费标准", "不收费"),
                  ("guide_basis", "设定依据", "《中华人民共和国行政许可法》"),
                  ("guide_flow", "办理流程", "申请、受理、审核、办结"),
                  ("guide_location", "办理地点", "市政务服务中心一楼"), ("guide_contact", "咨询电话", "12345")]
ONLINE_EXTRAS = [("svc_material_upload", "申请材料上传：支持PDF、JPG格式"),
                 ("svc_express_delivery", "结果送达方式：快递送达（免费）"),
                 ("svc_e_seal", "本事项支持电子签章"), ("svc_result_download", "办结后可在个人空间办理结果下载")]
BIZ_SETUP = [("biz_setup_one_window", "实行“一窗受理、集成服务”"), ("biz_setup_one_form", "申请人一表填报、一次提交"),
             ("biz_setup_parallel", "名称登记、设立登记、公章刻制、申领发票并联办理"),
             ("biz_setup_time_limit", "企业开办时间压缩至{n}个工作日")]
# (feature, link text, target path, target title, marks the target page shows)
QUICK = [
    ("svc_housing_query", "公积金查询", "/cx/gjj.html", "公积金查询", {"svc_housing_query"}),
    ("svc_social_card", "社保卡服务", "/sbk/index.html", "社保卡服务", {"svc_social_card"}),
    ("svc_social_query", "社保查询", "/cx/sb.html", "社保查询", set()),
    ("svc_medical_appointment", "预约挂号", "/yygh/index.html", "预约挂号", {"svc_medical_appointment"}),
    ("svc_medical_insurance_query", "医保查询", "/cx/yb.html", "医保查询", set()),
    ("svc_transport_violation_query", "交通违法查询", "/cx/jtwf.html", "交通违法查询", {"svc_transport_violation_query"}),
    ("svc_transport_realtime", "实时公交", "/cx/ssgj.html", "实时公交", {"svc_transport_realtime"}),
    ("svc_education_enrolment", "入学报名", "/jy/rxbm.html", "入学报名", {"svc_education_enrolment"}),
    ("svc_education_query", "学籍查询", "/cx/xj.html", "学籍查询", {"svc_education_query"}),
    ("svc_business_one_window", "企业开办一窗通", "/qykb/ywt.html", "企业开办一窗通", {"svc_business_one_window"}),
    ("svc_business_name_query", "企业名称自主申报", "/qykb/mcsb.html", "企业名称自主申报", {"svc_business_name_query"}),
    ("svc_selfservice_terminal", "自助终端", "/zzzd/index.html", "自助服务终端分布", {"svc_selfservice_terminal"}),
    ("svc_booking", "网上预约", "/yy/index.html", "办事预约", {"svc_booking"}),
    ("svc_e_license", "电子证照", "/dzzz/index.html", "电子证照", {"svc_e_license"}),
    ("svc_e_payment", "网上缴费", "/jf/index.html", "网上缴费", {"svc_e_payment"}),
    ("progress_query", "办件查询", "/bjcx/index.html", "办件查询", {"progress_query"}),
    ("unified_service_entry", "一网通办", "/ywtb/index.html", "一网通办", {"unified_service_entry"}),
    ("sso_login", "统一登录", "/login.html", "用户登录", set()),
    ("personal_space", "个人空间", "/my/gr.html", "我的办件", set()),
    ("enterprise_space", "法人空间", "/my/fr.html", "企业办件", set()),
    ("custom_homepage", "个性化定制", "/my/dz.html", "栏目设置", set()),
    ("favorite_service", "我的收藏", "/my/sc.html", "收藏的服务", set()),
    ("browse_history", "浏览记录", "/my/ll.html", "最近访问", set()),
    ("service_reminder", "办事提醒", "/my/tx.html", "消息中心", set()),
]
OFFSITE = [("svc_iit_online", "个人所得税网上申报", "https://etax.chinatax.gov.cn/"),
           ("svc_iit_app_link", "个人所得税APP下载", "https://its.chinatax.gov.cn/")]


@dataclass
class ServiceInfo:
    home: str = ""
    guides: list[str] = field(default_factory=list)
    online: list[str] = field(default_factory=list)
    hot: list[tuple[str, str]] = field(default_factory=list)


def build_service(seed: int, unit, site: Site, base: str) -> ServiceInfo:
    """Build the service pages of ``unit`` into ``site`` under ``base`` ("" or "/zwfw")."""
    b = Builder(seed, unit, site, base)
    info = ServiceInfo(home=b.abs(f"{base}/" if not base else f"{base}/index.html"))
    columns = _guides(b, info) if b.has("svc_items") else []
    extra = _extras(b)
    home_links = _quick(b) + extra
    _home(b, info, columns, home_links)
    return info


def _guides(b: Builder, info: ServiceInfo) -> list[tuple[str, str]]:
    columns = []
    plan = [(d, V.DOMAIN_COLUMNS[d], list(V.DOMAIN_ITEMS[d])) for d in V.DOMAIN_COLUMNS if b.has(f"svc_{d}_guide")]
    if b.has("svc_social_transfer"):
        next(p for p in plan if p[0] == "social")[2].append(V.SOCIAL_TRANSFER_ITEM)
    if b.has("svc_iit_guide"):
        plan.append(("tax", "税务服务", list(V.TAX_ITEMS)))
    plan.append(("other", "综合服务", list(V.OTHER_ITEMS)))
    share = 0.3 + 0.6 * b.rng.random()
    first = True
    for domain, colname, items in plan:
        path = f"/{V.DOMAIN_PATHS.get(domain, 'zhfw')}/"
        colid = b.col_id()
        keep = [items[0]] + [i for i in items[1:] if b.rng.random() < 0.75 or i == V.SOCIAL_TRANSFER_ITEM]
        allowed = b.has("svc_online") and (domain in ("other", "tax") or b.has(f"svc_{domain}_online"))
        entries = []
        for k, item in enumerate(keep):
            online = allowed and (k == 0 or b.rng.random() < share)
            url = _guide(b, info, domain, colname, path, colid, item, online, first)
            first = False
            entries.append((item, url, ""))
        col_url = b.column_url(path, colid)
        b.page(col_url, b.site.title(colname), set(), _render_column, colname,
               [(t, u) for t, u, _ in entries], column=colname)
        columns.append((colname, col_url))
    return columns


def _guide(b: Builder, info: ServiceInfo, domain: str, colname: str, path: str, colid: int, item: str,
           online: bool, first: bool) -> str:
    day = b.day("2017-06-01", "2019-01-10")
    url = b.article_url(path, colid, day)
    code = f"{b.unit.code}{b.rng.randrange(10**9, 10**10)}"
    marks = {"svc_item", "svc_guide"}
    if domain in V.DOMAIN_COLUMNS:
        marks.add(f"svc_{domain}_guide")
    if domain == "tax":
        marks.add("svc_iit_guide")
    if item == V.SOCIAL_TRANSFER_ITEM:
        marks.add("svc_social_transfer")
    elems = [(f, k, v) for f, k, v in GUIDE_ELEMENTS if b.has(f) and (first or b.rng.random() < 0.8)]
    marks |= {f for f, _, _ in elems}
    hf = b.has("svc_high_frequency") and (first or b.rng.random() < 0.4)
    full = online and b.has("svc_online_full") and (not info.online or b.rng.random() < 0.5)
    sample = b.has("guide_form_sample") and (first or b.rng.random() < 0.5)
    form = domain == "housing" and b.has("svc_housing_form")
    biz = [(f, t.format(n=b.rng.choice([3, 4, 5]))) for f, t in BIZ_SETUP if domain == "business" and b.has(f)]
    marks |= {"svc_high_frequency"} if hf else set()
    marks |= {"svc_online_entry", "svc_online_full"} if full else ({"svc_online_entry"} if online else set())
    marks |= ({"guide_form_sample"} if sample else set()) | ({"svc_housing_form"} if form else set())
    marks |= {f for f, _ in biz}
    online_url = f"{b.base}/wsbl/{code}.html" if online else ""
    files = []
    if sample:
        files.append((f"{b.base}/files/{code}_yb.doc", "样表下载"))
    if form:
        files.append((f"{b.base}/files/{code}_bg.doc", "表格下载"))
    for f_url, what in files:
        b.page(f_url, what, set(), render_file, what, chrome=False, content_type="application/msword")
    b.page(url, b.site.title(f"{item}办事指南", colname), marks, _render_guide, item, code,
           [(k, v) for _, k, v in elems], hf, full, online_url, files, [t for _, t in biz],
           column=colname, article=True, pubdate=day)
    info.guides.append(b.abs(url))
    if hf:
        info.hot.append((item, url))
    if online:
        _online(b, info, domain, colname, item, code, online_url, url)
    return url


def _online(b: Builder, info: ServiceInfo, domain: str, colname: str, item: str, code: str, url: str,
            guide: str) -> None:
    marks = {"svc_online_apply"}
    if item == V.SOCIAL_TRANSFER_ITEM:
        marks.add("svc_social_transfer")
    if domain in V.DOMAIN_COLUMNS:
        marks.add(f"svc_{domain}_online")
    extras = [(f, t) for f, t in ONLINE_EXTRAS if b.has(f) and (not info.online or b.rng.random() < 0.7)]
    marks |= {f for f, _ in extras}
    b.page(url, b.site.title(f"{item}在线办理", colname), marks, _render_online, item, code,
           [t for _, t in extras], guide, column=colname)
    info.online.append(b.abs(url))


def _quick(b: Builder) -> list[tuple[str, str]]:
    links = []
    for feat, text, path, title, marks in QUICK:
        if b.has(feat):
            url = b.base + path
            extra = ""
            if feat == "sso_login" and b.has("one_account_link"):
                marks = marks | {"one_account_link"}
                extra = _one_account(b)
            b.page(url, b.site.title(title), marks, render_text, title, f"欢迎使用{title}服务。", extra)
            links.append((url, text))
    if b.has("one_account_link") and not b.has("sso_login"):
        url = b.base + "/login.html"
        b.page(url, b.site.title("用户登录"), {"one_account_link"}, render_text, "用户登录", "请登录后办理。",
               _one_account(b))
        links.append((url, "登录"))
    for feat, text, href in OFFSITE:
        if b.has(feat):
            links.append((href, text))
    return links


def _one_account(b: Builder) -> str:
    return f"<p>本平台已接入{V.province_full(b.unit.province)}统一身份认证平台，一次登录全网通办。</p>"


def _extras(b: Builder) -> list[tuple[str, str]]:
    """Feature pages reached from the home page by a link whose text marks nothing by itself
    (except 用户注册 and 好差评, whose links are their markers)."""
    steps = [("user_register", _register), ("service_rating", _rating), ("case_result_public", _case_results),
             ("case_statistics", _case_statistics), ("svc_iit_deduction", _iit_deduction),
             ("svc_hpv_vaccine_info", _hpv), ("life_event_theme", _life_events), ("dept_service_hall", _departments)]
    return [step(b) for feature, step in steps if b.has(feature)]


def _register(b: Builder) -> tuple[str, str]:
    auth = {"auth_id_card": "身份证实名认证", "auth_face": "人脸识别认证", "auth_e_social_card": "电子社保卡认证",
            "auth_alipay": "支付宝认证", "auth_wechat": "微信认证"}
    got = [f for f in auth if b.has(f)]
    extra = "<p>实名认证方式：" + "、".join(auth[f] for f in got) + "</p>" if got else ""
    b.page(b.base + "/register.html", b.site.title("用户注册"), {"user_register", *got}, render_text,
           "用户注册", "注册成为平台用户。", extra)
    return b.base + "/register.html", "用户注册"


def _case_results(b: Builder) -> tuple[str, str]:
    colid = b.col_id()
    items = []
    for day in b.days(b.rng.randrange(3, 25), "2018-09-01", "2019-01-18"):
        item = b.rng.choice(V.OTHER_ITEMS)
        url = b.article_url("/bjgs/", colid, day)
        b.page(url, b.site.title(f"{item}办结公示", "办件公示"), {"case_result_public"}, render_text,
               f"{item}办结公示", f"申请人于{day}办结{item}事项。", article=True, pubdate=day, column="办件公示")
        items.append((f"{item}办结公示", url, day))
    return b.listing("/bjgs/", colid, "办件公示", items)[0], "办件公示"


def _case_statistics(b: Builder) -> tuple[str, str]:
    b.page(b.base + "/bjgs/tj.html", b.site.title("办件统计"), {"case_statistics"}, render_text, "办件统计",
           "本月共受理办件，办结率保持较高水平。")
    return b.base + "/bjgs/tj.html", "本月办件情况"


def _iit_deduction(b: Builder) -> tuple[str, str]:
    url = b.base + "/swfw/zxfjkc.html"
    b.page(url, b.site.title("个人所得税专项附加扣除填报指引", "税务服务"), {"svc_iit_deduction"}, render_text,
           "个人所得税专项附加扣除填报指引", "2019年1月1日起，纳税人可享受子女教育等六项扣除。")
    return url, "个税改革填报指引"


def _life_events(b: Builder) -> tuple[str, str]:
    events = b.rng.sample(V.LIFE_EVENTS, b.rng.randrange(2, len(V.LIFE_EVENTS)))
    urls = []
    for i, ev in enumerate(events):
        u = f"{b.base}/ztfw/{i + 1}.html"
        b.page(u, b.site.title(ev, "主题服务"), {"life_event_theme"}, render_text, ev, f"{ev}相关事项一次办。")
        urls.append((u, ev))
    b.page(b.base + "/ztfw/index.html", b.site.title("主题服务"), {"life_event_theme"}, _render_links_page,
           "主题服务", urls)
    return b.base + "/ztfw/index.html", "主题服务"


def _departments(b: Builder) -> tuple[str, str]:
    prefix = V.unit_kind(b.unit.name)
    depts = V.DEPARTMENTS[:10] + b.rng.sample(V.DEPARTMENTS[10:], 3)
    urls = []
    for i, d in enumerate(depts):
        u = f"{b.base}/bmfw/{i + 1}.html"
        b.page(u, b.site.title(prefix + d, "部门服务"), {"dept_service_hall"}, render_text, prefix + d,
               f"{prefix}{d}政务服务事项。")
        urls.append((u, prefix + d))
    b.page(b.base + "/bmfw/index.html", b.site.title("部门服务"), {"dept_service_hall"}, _render_links_page,
           "部门服务", urls)
    return b.base + "/bmfw/index.html", "部门服务"


def _rating(b: Builder) -> tuple[str, str]:
    texts = {"rating_mobile": "扫码评价", "rating_hall_terminal": "窗口评价器", "rating_sms": "短信评价"}
    got = [f for f in texts if b.has(f)]
    extra = ("<p>评价方式：网上评价、" + "、".join(texts[f] for f in got) + "</p>") if got else "<p>评价方式：网上评价</p>"
    marks = {"service_rating", *got}
    links = []
    if b.has("rating_result_public"):
        colid = b.col_id()
        for k, month in enumerate(["2018年10月", "2018年11月", "2018年12月"][: b.rng.randrange(1, 4)]):
            day = ["2018-11-05", "2018-12-05", "2019-01-05"][k]
            u = b.article_url("/hcp/", colid, day)
            b.page(u, b.site.title(f"{month}政务服务好差评情况通报", "好差评"), {"service_rating", "rating_result_public"},
                   render_text, f"{month}政务服务好差评情况通报", f"{month}共收到评价，好评率较高。",
                   article=True, pubdate=day, column="好差评")
            links.append((u, f"{month}情况通报"))
    b.page(b.base + "/hcp/index.html", b.site.title("好差评"), marks, _render_links_page, "政务服务好差评", links, extra)
    return b.base + "/hcp/index.html", "好差评"


def _hpv(b: Builder) -> tuple[str, str]:
    base = b.base + "/ylws/hpv/"
    links, marks = [], {"svc_hpv_vaccine_info"}
    if b.has("svc_hpv_vaccine_sites"):
        b.page(base + "jzd.html", b.site.title("HPV疫苗接种点查询", "医疗卫生"), {"svc_hpv_vaccine_sites"}, render_text,
               "HPV疫苗接种点查询", "全市共设立接种门诊，可就近选择。")
        links.append((base + "jzd.html", "接种门诊一览"))
    if b.has("svc_hpv_vaccine_booking"):
        b.page(base + "yy.html", b.site.title("HPV疫苗预约登记", "医疗卫生"), {"svc_hpv_vaccine_booking"}, render_text,
               "HPV疫苗预约登记", "请填写个人信息进行登记。")
        links.append((base + "yy.html", "HPV疫苗预约"))
        marks.add("svc_hpv_vaccine_booking")
    b.page(base + "index.html", b.site.title("宫颈癌疫苗接种须知", "医疗卫生"), marks, _render_links_page,
           "宫颈癌疫苗接种须知", links, "<p>适龄女性可自愿自费接种。</p>")
    return base + "index.html", "宫颈癌疫苗接种"


def _home(b: Builder, info: ServiceInfo, columns: list[tuple[str, str]], links: list[tuple[str, str]]) -> None:
    marks = {f for f, text, *_ in QUICK if b.has(f)} | {f for f, *_ in OFFSITE if b.has(f)}
    marks |= {"user_register"} if b.has("user_register") else set()
    marks |= {"service_rating"} if b.has("service_rating") else set()
    hot = b.has("hot_services") and info.guides
    if hot:
        marks.add("hot_services")
        if not info.hot:
            info.hot = [("常办事项", info.guides[0])]
    home = f"{b.base}/" if not b.base else f"{b.base}/index.html"
    title = b.site.name if not b.base else b.site.title("办事服务")
    b.page(home, title, marks, _render_home, columns, links, info.hot if hot else [])


def _render_home(ctx: Ctx, site: Site, page: Page, columns, links, hot) -> str:
    out = ["<h1>办事服务</h1>", '<div class="cols">', ul([a(u, t) for t, u in columns]), "</div>"]
    if links:
        out.append('<div class="quick"><h3>便民服务</h3>' + ul([a(h, t) for h, t in links]) + "</div>")
    if hot:
        out.append('<div class="hot"><h3>热门服务</h3>' + ul([a(u, t) for t, u in hot]) + "</div>")
    return "".join(out)


def _render_column(ctx: Ctx, site: Site, page: Page, name: str, entries) -> str:
    return f"<h2>{esc(name)}</h2>" + ul([a(u, t) for t, u in entries])


def _render_links_page(ctx: Ctx, site: Site, page: Page, heading: str, links, extra: str = "") -> str:
    return f"<h1>{esc(heading)}</h1>{extra}" + ul([a(u, t) for u, t in links])


def _render_guide(ctx: Ctx, site: Site, page: Page, item, code, elems, hf, full, online_url, files, biz) -> str:
    rng = rng_for(ctx, site, page)
    depth = "全程网办" if full else ("网上预审" if online_url else "不支持网上办理")
    out = [f"<h1>{esc(item)}办事指南</h1>", "<p>【高频事项】</p>" if hf else "",
           fields([("事项编码", code), ("事项类型", "公共服务"), *elems, ("网上办理深度", depth)])]
    out += [f"<p>{esc(t)}。</p>" for t in biz]
    links = ([a(online_url, "在线办理")] if online_url else []) + [a(u, t) for u, t in files]
    if links:
        out.append('<div class="ops">' + " ".join(links) + "</div>")
    out.append(paragraphs(rng, f"本指南适用于{item}事项的申请和办理。", 1))
    return "".join(out)


def _render_online(ctx: Ctx, site: Site, page: Page, item, code, extras, guide) -> str:
    form = "<form><h3>申请人信息</h3><p>姓名 证件号码 联系电话</p></form>"
    return (f"<h1>{esc(item)}在线办理</h1>{form}" + "".join(f"<p>{esc(t)}</p>" for t in extras)
            + f'<p>{a(guide, "返回指南")} <button>提交申请</button></p>')
