"""SIP status codes and their default reason phrases (RFC 3261 §21 and extensions)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Status", "reason_phrase"]


class Status(IntEnum):
    """Response codes registered with IANA that a SIP element is likely to meet."""

    TRYING = 100
    RINGING = 180
    CALL_IS_BEING_FORWARDED = 181
    QUEUED = 182
    SESSION_PROGRESS = 183
    EARLY_DIALOG_TERMINATED = 199  # RFC 6228
    OK = 200
    ACCEPTED = 202  # RFC 3265
    NO_NOTIFICATION = 204  # RFC 5839
    MULTIPLE_CHOICES = 300
    MOVED_PERMANENTLY = 301
    MOVED_TEMPORARILY = 302
    USE_PROXY = 305
    ALTERNATIVE_SERVICE = 380
    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    PAYMENT_REQUIRED = 402
    FORBIDDEN = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    NOT_ACCEPTABLE = 406
    PROXY_AUTHENTICATION_REQUIRED = 407
    REQUEST_TIMEOUT = 408
    GONE = 410
    CONDITIONAL_REQUEST_FAILED = 412  # RFC 3903
    REQUEST_ENTITY_TOO_LARGE = 413
    REQUEST_URI_TOO_LONG = 414
    UNSUPPORTED_MEDIA_TYPE = 415
    UNSUPPORTED_URI_SCHEME = 416
    UNKNOWN_RESOURCE_PRIORITY = 417  # RFC 4412
    BAD_EXTENSION = 420
    EXTENSION_REQUIRED = 421
    SESSION_INTERVAL_TOO_SMALL = 422  # RFC 4028
    INTERVAL_TOO_BRIEF = 423
    BAD_LOCATION_INFORMATION = 424  # RFC 6442
    USE_IDENTITY_HEADER = 428  # RFC 8224
    PROVIDE_REFERRER_IDENTITY = 429  # RFC 3892
    FLOW_FAILED = 430  # RFC 5626
    ANONYMITY_DISALLOWED = 433  # RFC 5079
    BAD_IDENTITY_INFO = 436  # RFC 8224
    UNSUPPORTED_CERTIFICATE = 437  # RFC 8224
    INVALID_IDENTITY_HEADER = 438  # RFC 8224
    FIRST_HOP_LACKS_OUTBOUND_SUPPORT = 439  # RFC 5626
    MAX_BREADTH_EXCEEDED = 440  # RFC 5393
    BAD_INFO_PACKAGE = 469  # RFC 6086
    CONSENT_NEEDED = 470  # RFC 5360
    TEMPORARILY_UNAVAILABLE = 480
    CALL_TRANSACTION_DOES_NOT_EXIST = 481
    LOOP_DETECTED = 482
    TOO_MANY_HOPS = 483
    ADDRESS_INCOMPLETE = 484
    AMBIGUOUS = 485
    BUSY_HERE = 486
    REQUEST_TERMINATED = 487
    NOT_ACCEPTABLE_HERE = 488
    BAD_EVENT = 489  # RFC 3265
    REQUEST_PENDING = 491
    UNDECIPHERABLE = 493
    SECURITY_AGREEMENT_REQUIRED = 494  # RFC 3329
    SERVER_INTERNAL_ERROR = 500
    NOT_IMPLEMENTED = 501
    BAD_GATEWAY = 502
    SERVICE_UNAVAILABLE = 503
    SERVER_TIMEOUT = 504
    VERSION_NOT_SUPPORTED = 505
    MESSAGE_TOO_LARGE = 513
    PRECONDITION_FAILURE = 580  # RFC 3312
    BUSY_EVERYWHERE = 600
    DECLINE = 603
    DOES_NOT_EXIST_ANYWHERE = 604
    GLOBAL_NOT_ACCEPTABLE = 606
    UNWANTED = 607  # RFC 8197


# Phrases as the RFCs print them where the enum name cannot say it exactly.
_SPECIAL = {
    200: "OK",
    302: "Moved Temporarily",
    481: "Call/Transaction Does Not Exist",
    505: "Version Not Supported",
    439: "First Hop Lacks Outbound Support",
    199: "Early Dialog Terminated",
    414: "Request-URI Too Long",
    416: "Unsupported URI Scheme",
    428: "Use Identity Header",
}

_PHRASES: dict[int, str] = {
    s.value: _SPECIAL.get(s.value, s.name.replace("_", " ").title()) for s in Status
}

# RFC 3261 §8.1.3.2: an unknown code is treated as the x00 code of its class.
_CLASS_PHRASES = {
    1: "Provisional",
    2: "Successful",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
    6: "Global Failure",
}


def reason_phrase(status: int) -> str:
    """The default reason phrase for ``status`` (a class name for unknown codes)."""
    phrase = _PHRASES.get(status)
    if phrase is not None:
        return phrase
    return _CLASS_PHRASES.get(status // 100, "Unknown")
