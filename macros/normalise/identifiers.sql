{# An identifier as text with surrounding whitespace removed; blank becomes null. #}
{% macro normalise_id(expression) -%}
    nullif(trim(cast({{ expression }} as {{ dbt.type_string() }})), '')
{%- endmacro %}


{# Email lower-cased and trimmed; blank becomes null. Syntax is checked by is_valid_email. #}
{% macro normalise_email(expression) -%}
    nullif(lower(trim({{ expression }})), '')
{%- endmacro %}


{# True when the normalised email is syntactically valid (local@domain.tld). #}
{% macro is_valid_email(expression) -%}
    coalesce({{ segmentation.regex_matches(
        segmentation.normalise_email(expression),
        "'^[a-z0-9._%+''-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}$'"
    ) }}, false)
{%- endmacro %}


{# The normalised email when valid, else null. #}
{% macro clean_email(expression) -%}
    case when {{ segmentation.is_valid_email(expression) }} then {{ segmentation.normalise_email(expression) }} end
{%- endmacro %}


{# True when a value was given but is not a valid email (the value itself is not kept). #}
{% macro is_invalid_email(expression) -%}
    ({{ segmentation.normalise_email(expression) }} is not null and not {{ segmentation.is_valid_email(expression) }})
{%- endmacro %}


{#
    A phone number in E.164 form ('+' and 8 to 15 digits), or null when it cannot be read as one.
    Rules: a leading '+' keeps the digits as they are; a leading '00' is the international prefix;
    exactly 10 digits are a national number of var('default_phone_country_code');
    11 digits starting with that code already carry it. Anything else is not a phone number.
#}
{% macro normalise_phone(expression) -%}
    {%- set digits = segmentation.regex_replace_all(expression, "'[^0-9]'", "''") -%}
    {%- set country_code = var('default_phone_country_code') | string -%}
    {%- set candidate -%}
        case
            when trim({{ expression }}) like '+%' then '+' || {{ digits }}
            when {{ digits }} like '00%' then '+' || substring({{ digits }}, 3)
            when length({{ digits }}) = 10 then '+{{ country_code }}' || {{ digits }}
            when length({{ digits }}) = {{ 10 + country_code | length }} and {{ digits }} like '{{ country_code }}%'
                then '+' || {{ digits }}
        end
    {%- endset -%}
    case
        when {{ segmentation.regex_matches(candidate, "'^\\+[1-9][0-9]{7,14}$'") }} then {{ candidate }}
    end
{%- endmacro %}


{# True when a value was given but could not be read as a phone number. #}
{% macro is_invalid_phone(expression) -%}
    (nullif(trim({{ expression }}), '') is not null and {{ segmentation.normalise_phone(expression) }} is null)
{%- endmacro %}
