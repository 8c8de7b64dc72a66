-- One verdict per delivered (phone, country) pair, so the staging join keeps one row
-- per raw row (raw._email_checks.email_raw has a unique test of its own).
select
    phone_raw,
    country_raw,
    count(*) as verdicts
from {{ source('raw', '_phone_checks') }}
group by phone_raw, country_raw
having count(*) > 1
