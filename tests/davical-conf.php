<?php
// syncd's tests: each DAViCal (php -S) names its own database in SYNCD_DAVICAL_DB.
$c->pg_connect[] = 'dbname=' . getenv('SYNCD_DAVICAL_DB') . ' host=127.0.0.1 port=5432 user=postgres';
$c->system_name = 'syncd test DAViCal';
$c->admin_email = 'admin@example.invalid';
$c->default_locale = 'en_US.UTF-8';
