"""Interop tests against real SIP peers nobody here wrote: Kamailio and baresip.

Debian packages: ``kamailio``, ``kamailio-tls-modules``, ``kamailio-sqlite-modules``
and ``baresip-core`` (or the ``baresip`` metapackage); without them the tests
skip with the missing package named. Run with ``tools/test tests/interop -q``.

- ``peers.py``: processes, ports, readiness, certificates, log collection;
- ``kamailio_peer.py``, ``baresip_peer.py``, ``sipsec_peer.py``: one peer each;
- ``kamailio/`` and ``baresip/``: the config templates they render.
"""
