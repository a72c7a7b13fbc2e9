"""Meters over Modbus RTU and TCP, register maps as data, the BMS server."""
