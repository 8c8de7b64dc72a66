{{ staged_rows('base_crm__consents') }}
