"""sipsec: a secure SIP telephony stack.

Signalling over UDP, TCP and TLS, Digest authentication at proxies and
registrars, S/MIME end to end around the SDP, and SRTP for the voice.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
