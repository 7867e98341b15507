"""Sources' registrable domains (Public Suffix List, bundled snapshot) and kinds (SPEC 8)."""

import json

import pytest

from diagnosis.analysis import BrandSpec, analyze_answer
from diagnosis.analysis.domains import (
    DomainTableError,
    classify,
    domain_kinds,
    host_of,
    registrable_domain,
)
from diagnosis.analysis.sources import answer_sources

BRANDS = [
    BrandSpec("蔚来", ("NIO",), is_own=True, domains=("nio.com", "nio.cn")),
    BrandSpec("理想", domains=("lixiang.com",)),
    BrandSpec("小鹏"),
]

HOSTS = [
    # host, registrable domain, kind
    ("zhuanlan.zhihu.com", "zhihu.com", "ugc"),
    ("www.zhihu.com", "zhihu.com", "ugc"),
    ("www.xiaohongshu.com", "xiaohongshu.com", "ugc"),
    ("weibo.com", "weibo.com", "ugc"),
    ("m.weibo.cn", "weibo.cn", "ugc"),
    ("www.bilibili.com", "bilibili.com", "ugc"),
    ("movie.douban.com", "douban.com", "ugc"),
    ("tieba.baidu.com", "baidu.com", "ugc"),
    ("old.reddit.com", "reddit.com", "ugc"),
    ("www.youtube.com", "youtube.com", "ugc"),
    ("item.jd.com", "jd.com", "ecommerce"),
    ("detail.tmall.com", "tmall.com", "ecommerce"),
    ("item.taobao.com", "taobao.com", "ecommerce"),
    ("mobile.yangkeduo.com", "yangkeduo.com", "ecommerce"),
    ("www.amazon.com", "amazon.com", "ecommerce"),
    ("www.amazon.co.uk", "amazon.co.uk", "ecommerce"),
    ("www.amazon.co.jp", "amazon.co.jp", "ecommerce"),
    ("baike.baidu.com", "baidu.com", "encyclopedia"),
    ("en.wikipedia.org", "wikipedia.org", "encyclopedia"),
    ("zh.m.wikipedia.org", "wikipedia.org", "encyclopedia"),
    ("www.bbc.co.uk", "bbc.co.uk", "editorial"),
    ("www.autohome.com.cn", "autohome.com.cn", "editorial"),
    ("news.sina.com.cn", "sina.com.cn", "editorial"),
    ("www.dongchedi.com", "dongchedi.com", "editorial"),
    ("www.36kr.com", "36kr.com", "editorial"),
    ("www.theverge.com", "theverge.com", "editorial"),
    ("www.baidu.com", "baidu.com", "other"),  # baidu's search, not baike or tieba
    ("shop.example.com.cn", "example.com.cn", "other"),
    ("www.nio.com", "nio.com", "own"),
    ("app.nio.cn", "nio.cn", "own"),
    ("www.lixiang.com", "lixiang.com", "competitor"),
    ("notnio.com", "notnio.com", "other"),  # a suffix of the name, not a subdomain
    ("127.0.0.1", "127.0.0.1", "other"),
    ("localhost", "localhost", "other"),
]


@pytest.mark.parametrize(("host", "registrable", "kind"), HOSTS)
def test_hosts_get_their_registrable_domain_and_kind(host, registrable, kind):
    bare = host_of(host)
    assert registrable_domain(bare) == registrable
    assert classify(bare, BRANDS) == kind


def test_host_of_strips_scheme_www_port_credentials_and_path():
    assert host_of("https://user@WWW.Zhihu.com:443/p/1?x#y") == "zhihu.com"
    assert host_of("zhihu.com.") == "zhihu.com"


def test_own_domains_win_over_the_table():
    # given a brand whose own site is on an e-commerce platform's domain
    brands = [BrandSpec("京东", is_own=True, domains=("jd.com",))]
    assert classify("item.jd.com", brands) == "own"
    assert classify("item.jd.com", []) == "ecommerce"


def test_a_user_file_extends_and_overrides_the_table(tmp_path):
    extra = tmp_path / "kinds.toml"
    extra.write_text('ugc = ["autohome.com.cn"]\neditorial = ["example.org", "corp.*"]\n')
    kinds = domain_kinds(extra)
    assert kinds.kind_of("club.autohome.com.cn") == "ugc"  # overridden
    assert kinds.kind_of("news.example.org") == "editorial"  # added
    assert kinds.kind_of("www.corp.co.jp") == "editorial"  # a label under any suffix
    assert kinds.kind_of("zhuanlan.zhihu.com") == "ugc"  # the defaults stay
    as_json = tmp_path / "kinds.json"
    as_json.write_text(json.dumps({"encyclopedia": ["wiki.example.net"]}))
    assert domain_kinds(as_json).kind_of("wiki.example.net") == "encyclopedia"


@pytest.mark.parametrize(
    "content", ['{"news": ["x.com"]}', '{"ugc": "x.com"}', "not json"]
)
def test_an_unusable_kinds_file_is_refused_naming_the_file(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(DomainTableError, match=r"bad\.json"):
        domain_kinds(bad)


def test_api_citations_and_text_urls_merge_without_duplicates():
    # given an answer that writes two URLs, one of which the API also cited (with a slash,
    # a fragment and another host case), and an API citation not in the text
    text = (
        "1. 蔚来 见 https://zhuanlan.zhihu.com/p/1 和 [京东](https://item.jd.com/9.html)\n"
        "参考 https://zhuanlan.zhihu.com/p/1"
    )
    citations = [
        {"url": "https://Zhuanlan.Zhihu.com/p/1/#top", "title": "知乎"},
        {"url": "https://www.nio.com/es8"},
        {"url": "ftp://nope.example"},  # not a web page
        {"title": "no url"},
    ]
    sources = answer_sources(text, citations=citations, brands=BRANDS)
    assert [(s["domain"], s["registrable_domain"], s["kind"], s["cited_by"]) for s in sources] == [
        ("zhuanlan.zhihu.com", "zhihu.com", "ugc", "api"),
        ("nio.com", "nio.com", "own", "api"),
        ("item.jd.com", "jd.com", "ecommerce", "text"),
    ]


def test_the_analysis_of_an_answer_carries_the_full_source_records():
    analysis = analyze_answer("蔚来不错 https://www.lixiang.com/l9", BRANDS)
    assert analysis["sources"] == [
        {
            "url": "https://www.lixiang.com/l9",
            "domain": "lixiang.com",
            "registrable_domain": "lixiang.com",
            "kind": "competitor",
            "cited_by": "text",
        }
    ]
    # an empty answer can still carry the API's citations
    empty = analyze_answer("", BRANDS, citations=[{"url": "https://en.wikipedia.org/wiki/NIO"}])
    assert [s["kind"] for s in empty["sources"]] == ["encyclopedia"]
