"""Simulated site: stations with cars, a Modbus meter, faults as data."""
