{{ staged_rows('base_web__events') }}
