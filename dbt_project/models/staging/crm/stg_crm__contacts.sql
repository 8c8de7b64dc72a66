{{ staged_rows('base_crm__contacts') }}
