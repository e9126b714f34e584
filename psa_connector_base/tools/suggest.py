"""Rank Odoo records that may be the object a missing reference names.

The similarity of two strings is rapidfuzz's; this module only normalises what is
compared (case, accents, legal forms, e-mail and VAT spelling) and combines the
attributes' scores into one, with the evidence a person reads before mapping.
"""

import re
import unicodedata

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

# The attributes a hint and a candidate are compared on, and how much each counts.
# An e-mail or a VAT number names one party; a name or a code is shared more often.
WEIGHTS = {"name": 2, "code": 2, "email": 3, "vat": 3}
# An attribute the hint has but the candidate lacks is neither for nor against it.
NEUTRAL_SCORE = 50
# A candidate is suggested only when one attribute resembles the hint this much.
MIN_EVIDENCE = 60

# Spellings of one legal form, so "Acme Ltd" and "ACME Limited" compare as the same name.
LEGAL_FORMS = {
    "limited": "ltd",
    "corporation": "corp",
    "incorporated": "inc",
    "company": "co",
    "gesellschaft mit beschrankter haftung": "gmbh",
    "aktiengesellschaft": "ag",
    "societe anonyme": "sa",
    "limited liability company": "llc",
}
LEGAL_FORMS_RE = re.compile(r"\b(" + "|".join(sorted(LEGAL_FORMS, key=len, reverse=True)) + r")\b")
VAT_PREFIX_RE = re.compile(r"^[A-Z]{2}(?=[0-9])")


def strip_accents(text):
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalize_name(value):
    """Lower case, no accents or punctuation, one spelling per legal form."""
    text = default_process(strip_accents(str(value or "")))
    text = LEGAL_FORMS_RE.sub(lambda match: LEGAL_FORMS[match.group(1)], text)
    return " ".join(text.split())


def normalize_email(value):
    """(local part, domain): lower case, without dots or a +tag in the local part."""
    text = strip_accents(str(value or "")).strip().lower()
    if "@" not in text:
        return text.split("+", 1)[0].replace(".", ""), ""
    local, domain = text.rsplit("@", 1)
    return local.split("+", 1)[0].replace(".", ""), domain


def normalize_vat(value):
    """Upper case digits and letters only, without the country prefix."""
    text = re.sub(r"[^0-9A-Z]", "", strip_accents(str(value or "")).upper())
    return VAT_PREFIX_RE.sub("", text)


def normalize_code(value):
    return re.sub(r"[^0-9A-Z]", "", strip_accents(str(value or "")).upper())


def _domain_words(domain):
    # "mail.acme-corp.co.uk" -> "mail acme corp co": the top-level label says nothing.
    return " ".join(re.split(r"[.\-]", domain.rsplit(".", 1)[0]))


def compare(attribute, hint, value):
    """(score 0-100, evidence) of one attribute of a candidate against the hint."""
    if attribute == "name":
        score = round(fuzz.token_sort_ratio(normalize_name(hint), normalize_name(value)))
        return score, f"name {score} (token_sort_ratio {hint!r} ~ {value!r})"
    if attribute == "email":
        hint_local, hint_domain = normalize_email(hint)
        local, domain = normalize_email(value)
        if (hint_local, hint_domain) == (local, domain):
            if str(hint).strip().lower() == str(value).strip().lower():
                return 100, "e-mail exact"
            return 100, f"e-mail {value!r} same as {hint!r} without case, dots or +tag"
        local_score = fuzz.ratio(hint_local, local)
        domain_score = fuzz.token_set_ratio(_domain_words(hint_domain), _domain_words(domain))
        # Never 100: a different domain is an alias at best.
        score = min(99, round(0.75 * local_score + 0.25 * domain_score))
        return score, (
            f"e-mail {score} (local part ratio {round(local_score)}, domain "
            f"token_set_ratio {round(domain_score)}: {hint!r} ~ {value!r})"
        )
    if attribute == "vat":
        if normalize_vat(hint) == normalize_vat(value):
            return 100, f"VAT exact ({hint!r} = {value!r} without country prefix and spaces)"
        score = round(fuzz.ratio(normalize_vat(hint), normalize_vat(value)))
        return score, f"VAT {score} (ratio {hint!r} ~ {value!r})"
    if attribute == "code":
        if normalize_code(hint) == normalize_code(value):
            return 100, f"code exact ({value!r})"
        score = round(fuzz.ratio(normalize_code(hint), normalize_code(value)))
        return score, f"code {score} (ratio {hint!r} ~ {value!r})"
    raise ValueError(f"unknown attribute {attribute!r}")


def score_candidate(hints, values):
    """(score 0-100, evidence, exact matches) of one candidate, or None without evidence.

    ``hints`` and ``values`` map attributes of WEIGHTS to text; the score is the
    weighted mean over the attributes the hint has.
    """
    total = weight_sum = exact = best = 0
    evidence = []
    for attribute, weight in WEIGHTS.items():
        hint = hints.get(attribute)
        if not hint:
            continue
        value = values.get(attribute)
        if value:
            score, text = compare(attribute, hint, value)
            best = max(best, score)
            exact += score == 100
        else:
            score, text = NEUTRAL_SCORE, f"no {attribute} in Odoo"
        total += weight * score
        weight_sum += weight
        evidence.append(text)
    if not weight_sum or best < MIN_EVIDENCE:
        return None
    return round(total / weight_sum), "; ".join(evidence), exact


def rank(hints, candidates, limit=5):
    """The best ``limit`` of ``candidates`` ({id: {attribute: value}}) for ``hints``.

    Returns [(id, score, evidence)], best first; ties go to more exact matches.
    """
    scored = []
    for res_id, values in candidates.items():
        result = score_candidate(hints, values)
        if result:
            score, evidence, exact = result
            scored.append((-score, -exact, res_id, evidence))
    scored.sort()
    return [(res_id, -score, evidence) for score, _exact, res_id, evidence in scored[:limit]]
