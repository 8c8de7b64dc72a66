{{ staged_rows('base_esp__campaigns') }}
