"""Unit tests of evsite.modbus."""
