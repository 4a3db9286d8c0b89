"""Checks on the 2019 prefecture-level units registry (2018 division codes, cut-off 2018-10-31)."""

import csv
from collections import Counter
from pathlib import Path

import pytest

CSV_PATH = Path(__file__).parents[1] / "rules/2019/units.csv"

PROVINCE_PREFIX = {
    "河北": "13", "山西": "14", "内蒙古": "15", "辽宁": "21", "吉林": "22",
    "黑龙江": "23", "江苏": "32", "浙江": "33", "安徽": "34", "福建": "35",
    "江西": "36", "山东": "37", "河南": "41", "湖北": "42", "湖南": "43",
    "广东": "44", "广西": "45", "海南": "46", "四川": "51", "贵州": "52",
    "云南": "53", "西藏": "54", "陕西": "61", "甘肃": "62", "青海": "63",
    "宁夏": "64", "新疆": "65",
}

PROVINCE_COUNTS = {
    "河北": 11, "山西": 11, "内蒙古": 12, "辽宁": 14, "吉林": 9, "黑龙江": 13,
    "江苏": 13, "浙江": 11, "安徽": 16, "福建": 9, "江西": 11, "山东": 17,
    "河南": 17, "湖北": 13, "湖南": 14, "广东": 21, "广西": 14, "海南": 4,
    "四川": 21, "贵州": 9, "云南": 16, "西藏": 7, "陕西": 10, "甘肃": 14,
    "青海": 8, "宁夏": 5, "新疆": 14,
}

REGION_PROVINCES = {
    "东部": {"河北", "江苏", "浙江", "福建", "山东", "广东", "海南"},
    "中部": {"山西", "安徽", "江西", "河南", "湖北", "湖南"},
    "西部": {"内蒙古", "广西", "四川", "贵州", "云南", "西藏", "陕西",
             "甘肃", "青海", "宁夏", "新疆"},
    "东北": {"辽宁", "吉林", "黑龙江"},
}

REGION_COUNTS = {"东部": 86, "中部": 82, "西部": 130, "东北": 36}

# 294 prefecture-level cities (莱芜 included) + 30 autonomous prefectures
# + 7 prefectures (地区) + 3 leagues (盟) = 334.
SUFFIX_COUNTS = {"市": 294, "自治州": 30, "地区": 7, "盟": 3}


@pytest.fixture(scope="module")
def rows():
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["code", "name", "province", "macro_region"]
        return list(reader)


def test_row_count(rows):
    assert len(rows) == 334


def test_header_line_exact():
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        assert f.readline().rstrip("\r\n") == "code,name,province,macro_region"


def test_codes_unique_six_digits(rows):
    codes = [r["code"] for r in rows]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(set(codes)) == len(codes)
    assert all(c.endswith("00") and not c.endswith("0000") for c in codes)


def test_sorted_by_code(rows):
    codes = [r["code"] for r in rows]
    assert codes == sorted(codes)


def test_names_unique_and_nonempty(rows):
    names = [r["name"] for r in rows]
    assert all(names)
    assert len(set(names)) == len(names)


def test_province_counts(rows):
    assert dict(Counter(r["province"] for r in rows)) == PROVINCE_COUNTS


def test_region_counts(rows):
    assert dict(Counter(r["macro_region"] for r in rows)) == REGION_COUNTS


def test_region_matches_province(rows):
    for r in rows:
        assert r["province"] in REGION_PROVINCES[r["macro_region"]], r


def test_code_prefix_matches_province(rows):
    for r in rows:
        assert r["code"][:2] == PROVINCE_PREFIX[r["province"]], r


def test_name_suffix_counts(rows):
    counts = Counter()
    for r in rows:
        matched = [s for s in SUFFIX_COUNTS if r["name"].endswith(s)]
        assert len(matched) == 1, r
        counts[matched[0]] += 1
    assert dict(counts) == SUFFIX_COUNTS
    assert sum(SUFFIX_COUNTS.values()) == 334


def test_laiwu_present(rows):
    by_code = {r["code"]: r for r in rows}
    assert by_code["371200"]["name"] == "莱芜市"
    assert by_code["371200"]["province"] == "山东"


def test_municipalities_absent(rows):
    names = {r["name"] for r in rows}
    prefixes = {r["code"][:2] for r in rows}
    for m in ("北京市", "天津市", "上海市", "重庆市"):
        assert m not in names
    assert not prefixes & {"11", "12", "31", "50"}


def test_no_county_level_units(rows):
    names = {r["name"] for r in rows}
    for n in ("济源市", "仙桃市", "潜江市", "天门市", "神农架林区",
              "石河子市", "五指山市", "巢湖市"):
        assert n not in names
