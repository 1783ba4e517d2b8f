"""Pure rules about bookings: functions of data and time, no I/O."""
