"""The channels registry (govindex.collect.channels): every bad row located at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from govindex.collect.channels import Channel, Kind, load_channels
from govindex.collect.errors import ChannelsError
from govindex.diagnostics import GovindexError

UNITS = {"511500", "430900", "411600"}


def write(tmp_path: Path, text: str, name: str = "channels.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_registry(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffunit,kind,url,name\n"
                           "511500,portal,http://www.yibin.gov.cn/,宜宾市人民政府\n"
                           "511500,service,https://zwfw.yibin.gov.cn/x?a=1,宜宾政务服务\n"
                           "\n"
                           "511500,weibo,宜宾发布,宜宾发布\n"
                           "430900,wechat,https://mp.weixin.qq.com/x,益阳发布\n"
                           '411600,app,"com.zhoukou.app",周口通\n')
    channels = load_channels(path, UNITS)
    assert [c.kind for c in channels] == [Kind.PORTAL, Kind.SERVICE, Kind.WEIBO, Kind.WECHAT, Kind.APP]
    assert channels[0] == Channel(unit="511500", kind="portal", url="http://www.yibin.gov.cn/", name="宜宾市人民政府")
    assert [c.is_web for c in channels] == [True, True, False, False, False]


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "unit,kind,url,name\n"
                           "511500,portal,http://www.yibin.gov.cn/,ok\n"
                           "511501,portal,http://a.gov.cn/,typo in unit\n"
                           "511500,blog,http://b.gov.cn/,bad kind\n"
                           "511500,service,ftp://c.gov.cn/,bad scheme\n"
                           "511500,opendata,www.d.gov.cn,no scheme\n"
                           "511500,portal,http://www.yibin.gov.cn/,duplicate\n"
                           "430900,mobile,http:///nohost,no host\n"
                           "430900,weibo,has space,account with whitespace\n"
                           "430900,portal\n"
                           ",portal,http://e.gov.cn:99999/,empty unit and bad port\n")
    with pytest.raises(ChannelsError) as err:
        load_channels(path, UNITS)
    p = str(path)
    assert [x.render() for x in err.value.problems] == [
        f"{p}:3 [unit]: error[C104 bad-unit]: unknown unit code `511501`\n  hint: did you mean `511500`?",
        f"{p}:4 [kind]: error[C105 unknown-kind]: unknown channel kind `blog`; expected one of portal, service, "
        "opendata, mobile, weibo, wechat, app, miniprogram",
        f"{p}:5 [url]: error[C106 bad-url]: url `ftp://c.gov.cn/` has scheme `ftp`; expected an http:// or https:// URL",
        f"{p}:6 [url]: error[C106 bad-url]: url `www.d.gov.cn` has scheme `none`; expected an http:// or https:// URL",
        f"{p}:7 [url]: error[C107 duplicate-channel]: duplicate channel: same unit, kind and url as line 2",
        f"{p}:8 [url]: error[C106 bad-url]: url `http:///nohost` has no host",
        f"{p}:9 [url]: error[C106 bad-url]: account id `has space` contains whitespace or control characters",
        f"{p}:10: error[C103 bad-row]: expected 4 fields, found 2\n  hint: quote fields that contain commas",
        f"{p}:11 [unit]: error[C104 bad-unit]: empty unit code",
        f"{p}:11 [url]: error[C106 bad-url]: bad url `http://e.gov.cn:99999/`: Port out of range 0-65535",
    ]
    assert isinstance(err.value, GovindexError) and err.value.exit_code == 1
    assert err.value.diagnostics is err.value.problems
    assert str(err.value).splitlines()[0] == f"{p}:3 [unit]: error[C104 bad-unit]: unknown unit code `511501`"


def test_header_problems(tmp_path: Path) -> None:
    with pytest.raises(ChannelsError) as err:
        load_channels(write(tmp_path, "unit,kind,link,name,extra\n1,portal,http://a/,x,y\n"))
    assert [p.message for p in err.value.problems] == [
        "unknown column `link`; expected unit,kind,url,name",
        "unknown column `extra`; expected unit,kind,url,name",
        "missing column(s) url"]
    with pytest.raises(ChannelsError, match=r":1: error\[C102 bad-header\]: empty file"):
        load_channels(write(tmp_path, "", "empty.csv"))


def test_columns_in_any_order_and_no_unit_check(tmp_path: Path) -> None:
    path = write(tmp_path, "name,url,kind,unit\n门户,http://a.gov.cn/,portal,999999\n")
    assert load_channels(path)[0].unit == "999999"
    with pytest.raises(ChannelsError, match=r":2 \[unit\]: error\[C104 bad-unit\]: unknown unit code `999999`"):
        load_channels(path, UNITS)


def test_multiline_quoted_field_keeps_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, 'unit,kind,url,name\n511500,portal,http://a.gov.cn/,"two\nlines"\n511500,blog,x,y\n')
    with pytest.raises(ChannelsError) as err:
        load_channels(path, UNITS)
    assert [(p.location.line, p.column) for p in err.value.problems] == [(4, "kind")]


def test_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("unit,kind,url,name\n511500,portal,http://a/,宜宾\n".encode("gbk"))
    with pytest.raises(ChannelsError, match=r"gbk.csv:2: error\[C101 unreadable\]: not UTF-8 \(byte \d+ of the line\)"):
        load_channels(path)
    with pytest.raises(ChannelsError, match="cannot read"):
        load_channels(tmp_path / "missing.csv")
