"""The features a synthetic unit may have, and how a unit's latent capability picks them.

A feature is something a methodologist would look for on a government site (a 领导信箱, a
责任清单 with its items, a 无障碍 version …). Most features are one marker of rules/2019; a few
are structural (the unit runs a service platform or an open-data portal) or set two markers that
always go together on one page (a service item page *is* a guide). Each feature has a difficulty
on a probit scale and the features it needs (an item needs its list).

As in examples/generate_facts.py, a unit has a latent capability (macro-region shift, a province
effect, individual spread); it has a feature when capability plus unit × feature noise clears
the feature's difficulty and everything the feature needs is there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# id[marker,marker]   difficulty   requires…   (a bare id is one marker of that name; ~ is structural)
_TABLE = """
~service_site                 -0.7
~opendata_site                 0.0
xxgk_catalogue                -1.3
xxgk_guide                    -1.1
xxgk_annual_report            -0.9
xxgk_apply_form               -0.5
xxgk_apply_online              0.3
xxgk_item                     -1.3   xxgk_catalogue
xxgk_index_code               -0.5   xxgk_item
xxgk_issue_date               -0.8   xxgk_item
xxgk_issuer                   -0.6   xxgk_item
xxgk_recent_item              -0.6   xxgk_issue_date
xxgk_by_topic                 -0.9   xxgk_catalogue
xxgk_by_org                   -0.7   xxgk_catalogue
xxgk_by_genre                 -0.1   xxgk_catalogue
xxgk_by_audience               0.4   xxgk_catalogue
policy_interpretation         -0.8
zrqd_list                     -0.9
zrqd_dept                     -0.3   zrqd_list
zrqd_item                     -0.6   zrqd_list
zrqd_main_duty                -0.9   zrqd_item
zrqd_matter                   -0.8   zrqd_item
zrqd_basis                    -0.4   zrqd_item
zrqd_supervision               0.1   zrqd_item
zrqd_public_service            0.2   zrqd_item
zrqd_coordination              0.5   zrqd_item
zrqd_update_notice             0.3   zrqd_list
zrqd_query                     0.4   zrqd_list
qlqd_list                     -0.9
qlqd_item                     -0.6   qlqd_list
qlqd_flowchart                -0.2   qlqd_item
qlqd_basis                    -0.5   qlqd_item
ggfw_list                     -0.7
ggfw_item                     -0.4   ggfw_list
ggfw_for_person               -0.1   ggfw_list
ggfw_for_enterprise            0.2   ggfw_list
ggfw_dept                      0.2   ggfw_list
svc_items[svc_item,svc_guide] -1.4
ggfw_guide_link                0.1   ggfw_item svc_items
svc_housing_guide             -1.0   svc_items
svc_social_guide              -1.0   svc_items
svc_business_guide            -1.0   svc_items
svc_medical_guide             -0.7   svc_items
svc_education_guide           -0.6   svc_items
svc_transport_guide           -0.5   svc_items
svc_online[svc_online_entry,svc_online_apply] -0.6 svc_items
svc_housing_online             0.0   svc_housing_guide svc_online
svc_social_online             -0.1   svc_social_guide svc_online
svc_business_online            0.0   svc_business_guide svc_online
svc_medical_online             0.3   svc_medical_guide svc_online
svc_education_online           0.3   svc_education_guide svc_online
svc_transport_online           0.2   svc_transport_guide svc_online
svc_online_full                0.0   svc_online
svc_high_frequency            -0.3   svc_items
guide_conditions              -1.0   svc_items
guide_materials               -1.2   svc_items
guide_time_limit              -1.0   svc_items
guide_fee                     -0.5   svc_items
guide_basis                   -0.4   svc_items
guide_flow                    -0.7   svc_items
guide_location                -0.8   svc_items
guide_contact                 -0.6   svc_items
guide_form_sample             -0.1   svc_items
svc_housing_form               0.0   svc_housing_guide
svc_housing_query             -0.5
svc_social_card               -0.3
svc_social_query              -0.6
svc_social_transfer            0.0   svc_social_guide
svc_business_one_window       -0.1
svc_business_name_query       -0.2
biz_setup_one_window          -0.4   svc_business_guide
biz_setup_one_form            -0.2   svc_business_guide
biz_setup_parallel             0.1   svc_business_guide
biz_setup_time_limit           0.3   svc_business_guide
svc_medical_appointment       -0.4
svc_medical_insurance_query   -0.2
medical_institution           -0.3
svc_hpv_vaccine_info           0.0
svc_hpv_vaccine_sites          0.3   svc_hpv_vaccine_info
svc_hpv_vaccine_booking        0.6   svc_hpv_vaccine_info
svc_education_enrolment        0.0
svc_education_query           -0.1
svc_transport_violation_query -0.5
svc_transport_realtime         0.1
svc_iit_guide                  0.2   svc_items
svc_iit_deduction             -0.2
svc_iit_online                 0.3
svc_iit_app_link               0.1
svc_selfservice_terminal       0.2
svc_booking                   -0.2
svc_material_upload            0.0   svc_online
svc_express_delivery           0.3   svc_online
svc_e_license                  0.3
svc_e_payment                  0.0
svc_e_seal                     0.6   svc_online
svc_result_download            0.4   svc_online
progress_query                -0.5
case_result_public             0.0
case_statistics                0.3
service_rating                -0.2
rating_result_public           0.3   service_rating
rating_mobile                  0.2   service_rating
rating_hall_terminal           0.4   service_rating
rating_sms                     0.7   service_rating
mailbox_entry                 -1.4
consult_entry                 -0.7
complaint_entry               -0.6
hotline_12345_online          -0.3
survey_entry                  -0.5
mailbox_statistics             0.0   mailbox_entry
mailbox_search                -0.2   mailbox_entry
faq_item                      -0.3
public_opinion_response       -0.1
mobile_version                -0.7
responsive_layout              0.3
tablet_layout                  0.8   mobile_version
browser_ok_ie                 -0.8
browser_ok_chrome             -0.5
browser_ok_firefox            -0.2
browser_ok_safari              0.3
accessible_link               -0.6
a11y_screen_reader            -0.3   accessible_link
a11y_font_resize              -0.5   accessible_link
a11y_high_contrast             0.0   accessible_link
a11y_large_cursor              0.2   accessible_link
a11y_reading_guide             0.5   accessible_link
img_alt_complete               0.5
site_search                   -1.2
search_suggest                 0.0   site_search
search_correction              0.5   site_search
search_category               -0.3   site_search
search_sort                   -0.4   site_search
search_pinyin                  0.8   site_search
search_service_direct          0.4   site_search
search_unified                 0.6   site_search
smart_qa_widget                0.1
qa_voice_input                 0.5   smart_qa_widget
qa_hot_questions              -0.3   smart_qa_widget
qa_guide_link                  0.1   smart_qa_widget
qa_human_handoff               0.3   smart_qa_widget
sso_login                     -0.2
one_account_link               0.0
user_register                 -0.5
auth_id_card                  -0.6   user_register
auth_face                      0.2   user_register
auth_e_social_card             0.5   user_register
auth_alipay                    0.3   user_register
auth_wechat                    0.1   user_register
personal_space                 0.0
enterprise_space               0.2
custom_homepage                0.8
favorite_service               0.3
share_button                  -0.4
browse_history                 0.6
life_event_theme               0.1
service_reminder               0.7
rss_feed                       0.2
email_subscribe                0.4
sms_subscribe                  0.8
wechat_subscribe               0.5
weibo_link                    -0.6
wechat_qrcode                 -0.8
app_download_link              0.0
miniprogram_qrcode             0.6
portal_service_link           -1.0   ~service_site
province_platform_link        -0.3
unified_service_entry          0.0
dept_service_hall             -0.2
site_cluster_nav              -0.5
hot_services                  -0.3   svc_items
opendata_dataset              -1.0   ~opendata_site
format_csv                    -0.8   opendata_dataset
format_xlsx                   -0.6   opendata_dataset
format_json                    0.0   opendata_dataset
format_xml                     0.4   opendata_dataset
opendata_download             -0.4   opendata_dataset
opendata_api                   0.0   ~opendata_site
opendata_license               0.2   ~opendata_site
opendata_app                   0.3   ~opendata_site
"""

UNIT_SD = 0.45         # individual spread of capability
PROVINCE_SD = 0.2      # province effect
FEATURE_NOISE = 0.8    # unit × feature noise


@dataclass(frozen=True, slots=True)
class Feature:
    id: str
    markers: tuple[str, ...]
    difficulty: float
    requires: tuple[str, ...]


def _parse(table: str) -> dict[str, Feature]:
    out: dict[str, Feature] = {}
    for line in table.strip().splitlines():
        head, diff, *req = line.split()
        if "[" in head:
            fid, marks = head.rstrip("]").split("[")
            markers = tuple(marks.split(","))
        else:
            fid, markers = head, (() if head.startswith("~") else (head,))
        fid = fid.lstrip("~")
        out[fid] = Feature(fid, markers, float(diff), tuple(r.lstrip("~") for r in req))
    return out


FEATURES = _parse(_TABLE)
MARKERS = frozenset(m for f in FEATURES.values() for m in f.markers)


def capability(seed: int, code: str, province: str, region: str, shift: dict[str, float]) -> float:
    """A unit's latent capability (probit scale): region shift, province effect, own spread."""
    prov = random.Random(f"{seed}:province:{province}").gauss(0, PROVINCE_SD)
    own = random.Random(f"{seed}:unit:{code}").gauss(0, UNIT_SD)
    return shift.get(region, 0.0) + prov + own


def draw(seed: int, code: str, cap: float) -> frozenset[str]:
    """The features of a unit with capability ``cap``: stable for (seed, code), whatever else is drawn."""
    have: set[str] = set()
    for f in FEATURES.values():  # the table lists every feature after what it requires
        noise = random.Random(f"{seed}:feature:{code}:{f.id}").gauss(0, FEATURE_NOISE)
        if cap + noise > f.difficulty and all(r in have for r in f.requires):
            have.add(f.id)
    return frozenset(have)


def markers_of(features: frozenset[str]) -> frozenset[str]:
    """The markers a unit with these features shows on its pages."""
    return frozenset(m for fid in features for m in FEATURES[fid].markers)
