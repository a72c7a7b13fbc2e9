"""Connection failures: which are security events, and how evsite's events look upstream."""

from __future__ import annotations

import ssl

from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from evsite.ocpp.frames import validate_payload
from evsite.store.audit import AuditRecord
from evsite.uplink.security_events import frame_for, notification_for
from evsite.uplink.tls import classify_failure


def test_certificate_and_tls_failures_are_security_events() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "certificate has expired"
    failure = classify_failure(verify)
    assert failure is not None and failure.event == "uplink.certificate_rejected"
    assert failure.reason == "certificate has expired"
    version = ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION]")
    version.reason = "TLSV1_ALERT_PROTOCOL_VERSION"
    assert classify_failure(version).ocpp_type == "InvalidTLSVersion"  # type: ignore[union-attr]
    assert classify_failure(ConnectionResetError()).event == "uplink.tls_rejected"  # type: ignore[union-attr]


def test_refused_credentials_are_a_security_event_and_plain_outages_are_not() -> None:
    denied = InvalidStatus(Response(401, "Unauthorized", Headers()))
    assert classify_failure(denied).ocpp_type == "FailedToAuthenticateAtCentralSystem"  # type: ignore[union-attr]
    assert classify_failure(InvalidStatus(Response(503, "Busy", Headers()))) is None
    assert classify_failure(ConnectionRefusedError()) is None
    assert classify_failure(TimeoutError()) is None


def test_audit_records_become_valid_security_event_notifications() -> None:
    record = AuditRecord(
        42, "2026-01-01T00:00:00.000Z", "startup", "system", "", "ok", {}, "0" * 64, "1" * 64
    )
    payload = notification_for(record)
    validate_payload("SecurityEventNotification", payload)
    assert payload["type"] == "StartupOfTheDevice"
    unique_id, frame = frame_for(record)
    assert unique_id == "evs-audit-42" and unique_id in frame
    odd = AuditRecord(7, record.time, "x" * 80, "a" * 300, "", "ok", {}, "", "")
    validate_payload("SecurityEventNotification", notification_for(odd))  # fits the limits
