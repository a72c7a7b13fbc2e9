"""Integration tests of evsite.modbus against real pymodbus peers."""
