# src/devices: one device per file, registered in devices.c.
librax_a_SOURCES += src/devices/devices.c src/devices/devices.h
