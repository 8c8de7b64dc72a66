{{ staged_rows('base_esp__email_events') }}
