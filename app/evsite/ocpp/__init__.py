"""OCPP station server: sessions, security profiles, identity guard."""
