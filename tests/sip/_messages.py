"""Generated SIP messages for the fast-path equivalence tests
(test_fastpath.py): valid ones in the common shape, valid but unusual ones,
and ones with exactly one fault, with the fault named."""

from __future__ import annotations

from hypothesis import strategies as st

# Generated messages. Most are valid and in the common shape, so the fast
# path takes them and every field is compared; some are valid but unusual
# (compact forms the full parser alone reads, quoted-pairs, IPv6 URIs, LWS
# before ":" or ";", addr-specs, "*"), and a few carry one fault.
METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "MESSAGE"]
METHODS += ["SUBSCRIBE", "NOTIFY", "PRACK", "UPDATE", "REFER", "X-Y.z", "invite"]
# One message in ten carries a fault, two are allowed to be unusual.
MODES = ["common"] * 7 + ["unusual"] * 2 + ["invalid"]
FAULTS = [
    "empty call-id",
    "call-id with space",
    "cseq method",
    "cseq too big",
    "max-forwards 256",
    "content-length long",
    "two content-lengths",
    "no colon",
    "status 2 digits",
    "status 099",
    "request line double space",
    "sip/3.0",
    "via port",
    "via without host",
    "bare lf",
    "not utf-8",
    "no end",
    "uri port",
    "from without uri",
    "stream without length",
    "cseq bad method",
    "control before name",
]
REQUEST_FAULTS = {"cseq method", "request line double space", "sip/3.0", "uri port"}
RESPONSE_FAULTS = {"status 2 digits", "status 099"}
LENGTH_FAULTS = {"content-length long", "two content-lengths"}
ALNUM = "abcxyzABCXYZ0189"
TOKEN = st.text(ALNUM + "-.!%*_+`'~", min_size=1, max_size=8)
PTOKEN = st.text(ALNUM + "-.!*_+~'", min_size=1, max_size=8)  # token ∩ pchar
LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9\-]{0,4}[a-zA-Z0-9])?", fullmatch=True)
DOMAIN = st.lists(LABEL, min_size=1, max_size=3).map(".".join)
IPV4 = st.lists(st.integers(0, 255).map(str), min_size=4, max_size=4).map(".".join)
IPV6 = st.one_of(
    st.sampled_from(
        ["[::1]", "[2001:db8::1]", "[2001:DB8::8:800:200C:417A]", "[::ffff:192.0.2.1]"]
    ),
    st.lists(st.integers(0, 0xFFFF).map("{:x}".format), min_size=8, max_size=8).map(
        lambda groups: "[" + ":".join(groups) + "]"
    ),
)
HOST = st.one_of(DOMAIN, IPV4)
PORT = st.one_of(st.just(""), st.integers(1, 65535).map(":{}".format))
USER = st.text(ALNUM + "-_.!~*'()&=+$,;?/", min_size=1, max_size=8)
URI_PARAMS = st.lists(
    st.one_of(
        st.sampled_from([";lr", ";transport=tcp", ";transport=TLS", ";user=phone", ";ob"]),
        st.tuples(PTOKEN, st.one_of(st.just(""), PTOKEN.map("={}".format))).map(
            lambda nv: f";{nv[0]}{nv[1]}"
        ),
    ),
    max_size=2,
).map("".join)
HPARAMS = st.lists(
    st.one_of(
        st.sampled_from([";expires=3600", ";q=0.5", ";+sip.instance", ";received=[::1]"]),
        st.tuples(TOKEN, st.one_of(st.just(""), TOKEN.map("={}".format))).map(
            lambda nv: f";{nv[0]}{nv[1]}"
        ),
    ),
    max_size=2,
).map("".join)
SPACE = st.sampled_from(["", " ", "  ", "\t"])
SEP = st.sampled_from(["", " ", " ", " ", "  ", "\t"])  # after the colon
TRAIL = st.sampled_from(["", "", "", " ", "\t"])
WORDS = st.lists(st.text(ALNUM + "-.!%*_+`'~", min_size=1, max_size=6), min_size=1, max_size=3)
QUOTED = st.text(ALNUM + " -.,;:<>@=\u00c5\u00e9\u4e2d", max_size=10)


def often(draw: st.DrawFn, odd: bool) -> bool:
    """True for an unusual piece: one time in three when the message may be odd."""
    return odd and draw(st.integers(0, 2)) == 0


@st.composite
def sip_uris(draw: st.DrawFn, odd: bool, request: bool = False) -> str:
    scheme = "sip" if request else draw(st.sampled_from(["sip", "sip", "sips"]))
    user = draw(st.one_of(st.just(""), USER.map("{}@".format)))
    host, port, params = draw(HOST), draw(PORT), draw(URI_PARAMS)
    if often(draw, odd):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            host = draw(IPV6)  # §19.1.1: an IPv6reference; the full parser's
        elif kind == 1:
            user = draw(st.sampled_from(["%41lice@", "a%20b@", "alice:secret@", "bob:@"]))
        elif kind == 2 and not request:
            params += draw(st.sampled_from(["?subject=hi", "?to=a%40b&x=y"]))
        elif kind == 3:
            scheme = draw(st.sampled_from(["SIP", "Sip"])) if request else "sips"
        elif kind == 4 and not request:
            return draw(st.sampled_from(["tel:+1-201-555-0123", "tel:7042;phone-context=ex.com"]))
        else:
            params += ";maddr=" + draw(IPV6)
    return f"{scheme}:{user}{host}{port}{params}"


@st.composite
def name_addrs(draw: st.DrawFn, odd: bool, tag: bool | None = None) -> str:
    uri = draw(sip_uris(odd))
    display = draw(
        st.one_of(
            st.just(""),
            WORDS.map(lambda ws: " ".join(ws) + " "),
            WORDS.map(" ".join),  # no space before "<": legal (RFC 3261 §25.1 LAQUOT)
            QUOTED.map('"{}" '.format),
            QUOTED.map('"{}"'.format),
        )
    )
    params = draw(HPARAMS)
    if tag or (tag is None and draw(st.booleans())):
        tag_value = draw(st.one_of(TOKEN, st.sampled_from(["[::1]", "a:b", "x]"])))
        params = f"{draw(st.sampled_from([';tag=', ';tag=', ';TAG=']))}{tag_value}" + params
    if often(draw, odd):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            display = draw(st.sampled_from(['"a\\"b" ', '"\\\\" ', "A  B ", "A\tB ", "\t"]))
        elif kind == 1 and ";" not in uri and "?" not in uri and "," not in uri:
            return uri + params  # an addr-spec: params after it are the header's
        elif kind == 2 and params:
            params = " " + params.replace(";", " ; ", 1)
        else:
            display = display.rstrip(" ") + "  "
    return f"{display}<{uri}>{params}"


@st.composite
def vias(draw: st.DrawFn, odd: bool, fault: str | None) -> str:
    transport = draw(st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "udp", "tls"]))
    host = draw(st.one_of(HOST, IPV6))
    port = draw(PORT)
    # ";branch=" alone is what the fast path matches first; other spellings
    # and more parameters take its general pattern.
    branch = draw(st.sampled_from([";branch=", ";branch=", ";Branch=", ";BRANCH="]))
    params = f"{branch}z9hG4bK{draw(TOKEN)}" + draw(
        st.sampled_from(["", ";rport", ";received=192.0.2.1", ";rport=5060;received=[::1]"])
    )
    params += draw(st.sampled_from(["", "", ";ttl=16", ";maddr=224.2.0.1", "\r\n ;x=y"]))
    sent = f"SIP/2.0/{transport}"
    if fault == "via port":
        port = ":65536"
    elif fault == "via without host":
        host, port = "", ""
    elif often(draw, odd):
        kind = draw(st.integers(0, 2))
        if kind == 0:
            sent = draw(st.sampled_from(["SIP / 2.0 / UDP", "sip/2.0/udp", "SIP/2.0/ TCP"]))
        elif kind == 1:
            params = params.replace(";", " ; ", 1)
        else:
            params += ";received=" + draw(st.sampled_from(["a.example", "[::1]"]))
    return f"{sent} {host}{port}{params}"


NAMES = {  # canonical name → its compact form (RFC 3261 §7.3.3)
    "Via": "v",
    "From": "f",
    "To": "t",
    "Call-ID": "i",
    "Contact": "m",
    "Content-Length": "l",
    "Content-Type": "c",
    "Subject": "s",
    "Supported": "k",
    "CSeq": None,
    "Max-Forwards": None,
}


@st.composite
def header(draw: st.DrawFn, name: str, value: str, odd: bool) -> str:
    compact = NAMES.get(name)
    spelling = draw(st.sampled_from([name, name, name.lower(), name.upper(), compact or name]))
    colon = " :" if often(draw, odd) else ":"
    return f"{spelling}{colon}{draw(SEP)}{value}{draw(TRAIL)}"


OPTIONAL = [
    ("Subject", st.one_of(QUOTED, st.just("lunch\r\n at noon"))),
    ("User-Agent", st.sampled_from(["sipsec/1", "Foo (bar) 2.0"])),
    ("Allow", st.just("INVITE, ACK, CANCEL, OPTIONS, BYE")),
    ("Supported", st.sampled_from(["timer, 100rel", "replaces", ""])),
    ("Expires", st.integers(0, 2**31).map(str)),
    ("Route", st.just("<sip:p1.example.com;lr>,<sip:p2.example.com;lr>")),
    ("Record-Route", st.just("<sip:[2001:db8::9]:5061;transport=tls;lr>")),
    ("Content-Type", st.sampled_from(["application/sdp", "text/plain; charset=utf-8"])),
    ("Authorization", st.just('Digest username="a", realm="r", nonce="n", uri="sip:b",')),
    ("X-" + "Odd_Name`~", TOKEN),
    ("Date", st.just("Sat, 13 Nov 2010 23:29:00 GMT")),
    # Line boundaries other than CRLF: part of the value on both paths.
    ("Subject", st.sampled_from(["a\x0bb", "x\u2028y", "\x1c", "form\x0cfeed"])),
]
BODIES = [b"", b"", b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", b"hi", b"\x00\xff\r\n\r\n"]


@st.composite
def messages(draw: st.DrawFn) -> tuple[bytes, bool]:
    mode = draw(st.sampled_from(MODES))
    odd = mode == "unusual"
    request = draw(st.booleans())
    faults = [f for f in FAULTS if f not in (RESPONSE_FAULTS if request else REQUEST_FAULTS)]
    fault = draw(st.sampled_from(faults)) if mode == "invalid" else None
    datagram = draw(st.booleans())
    method = draw(st.sampled_from(METHODS))
    if request:
        uri = draw(sip_uris(odd, request=True))
        if fault == "uri port":
            uri = f"sip:a@b.example:{draw(st.integers(65536, 99999))}"
        version = "SIP/3.0" if fault == "sip/3.0" else "SIP/2.0"
        gap = "  " if fault == "request line double space" else " "
        start = f"{method}{gap}{uri} {version}"
    else:
        code = str(draw(st.integers(100, 699)))
        if fault == "status 2 digits":
            code = code[:2]
        elif fault == "status 099":
            code = "099"
        reason = draw(st.sampled_from(["OK", "Ringing", "", "Busy Here", "Tr\u00e8s bien", "x"]))
        start = f"SIP/2.0 {code} {reason}"
    via_values = draw(st.lists(vias(odd, fault), min_size=1, max_size=3))
    if draw(st.booleans()):
        via_values = [draw(st.sampled_from([",", ", ", " ,\r\n "])).join(via_values)]
    call_id = draw(TOKEN) + draw(st.one_of(st.just(""), HOST.map("@{}".format)))
    if fault == "empty call-id":
        call_id = ""
    elif fault == "call-id with space":
        call_id = "a b"
    seq = draw(st.integers(0, 2**32 - 1))
    cseq_method = method if request else draw(st.sampled_from(METHODS))
    if fault == "cseq method":
        cseq_method = "BYE" if method != "BYE" else "ACK"
    elif fault == "cseq too big":
        seq = 2**32
    elif fault == "cseq bad method":
        cseq_method = draw(st.sampled_from(["BY:E", "A B", "INV\u00c9TE", ""]))
    max_forwards = 256 if fault == "max-forwards 256" else draw(st.integers(0, 255))
    from_value = draw(name_addrs(odd, tag=True))
    if fault == "from without uri":
        from_value = "Alice <>;tag=1"
    contacts = draw(st.lists(name_addrs(odd, tag=False), min_size=1, max_size=3))
    if often(draw, odd) and method == "REGISTER":
        contacts = ["*"]
    fields = [
        *(("Via", value) for value in via_values),
        ("From", from_value),
        ("To", draw(name_addrs(odd, tag=None if request else True))),
        ("Call-ID", call_id),
        ("CSeq", f"{seq}{' ' if not often(draw, odd) else '  '}{cseq_method}"),
        ("Max-Forwards", str(max_forwards)),
        ("Contact", draw(st.sampled_from([",", ", ", ",\r\n\t"])).join(contacts)),
    ]
    for name, value in draw(st.lists(st.sampled_from(OPTIONAL), max_size=3)):
        fields.append((name, draw(value)))
    body = draw(st.sampled_from(BODIES))
    length = len(body) + (draw(st.integers(1, 5)) if fault == "content-length long" else 0)
    if fault == "stream without length":
        datagram = False
    elif not datagram or fault in LENGTH_FAULTS or draw(st.integers(0, 3)):
        fields.append(("Content-Length", str(length)))
    if fault == "two content-lengths":
        fields.append(("Content-Length", str(length)))
    lines = [draw(header(name, value, odd)) for name, value in fields]
    if fault == "no colon":
        lines.append(draw(st.sampled_from(["Subject", "v", "X-Odd"])))
    elif fault == "control before name":
        lines.append(draw(st.sampled_from(["\x01X-Odd: 1", "\x00v: a", "\x1fSubject: b"])))
    lines = draw(st.permutations(lines))
    head = "\r\n".join([start, *lines])
    if fault == "bare lf":
        head += "\nX-After-LF: 1"
    data = head.encode() + (b"\r\n" if fault == "no end" else b"\r\n\r\n")
    if fault == "not utf-8":
        data = data.replace(b"\r\n", b"\r\nX-Bytes: \xff\xfe\r\n", 1)
    return data + body, datagram
