from datetime import timedelta

from odoo import _, fields, models

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid, SyncConflict


class PsaImporter(models.AbstractModel):
    _inherit = "psa.importer"

    def _currency_for(self, code, company):
        """The ISO currency ``code`` (default: the company's), activated if Odoo has it.

        Odoo ships every ISO currency inactive but its company's; a contract or expense in
        another one is legitimate and must not fail for that alone.
        """
        if not code:
            return company.currency_id
        currency = (
            self.env["res.currency"]
            .sudo()
            .with_context(active_test=False)
            .search([("name", "=", code.upper())], limit=1)
        )
        if not currency:
            raise PayloadInvalid(_("Unknown currency %r.", code))
        if not currency.active:
            currency.active = True
        return currency

    # Lock dates ---------------------------------------------------------------------

    def _first_open_day(self, company, day, purchase=True, sale=False):
        """(day, None) when ``day`` is open in ``company``'s books, else
        (first open day after the locks, [(lock date, lock field)])."""
        locks = company._get_lock_date_violations(
            day, fiscalyear=True, sale=sale, purchase=purchase, tax=False, hard=True
        )
        if not locks:
            return day, None
        return max(lock for lock, _field in locks) + timedelta(days=1), locks

    def _accounting_date(self, backend, company, day, external_id, what, **journal):
        """The date accounting may be written on for a change dated ``day``.

        An open day is itself. A day in a locked period (company lock dates) is never
        written: the change stops at the exception queue with the lock date and the
        first open day proposed, until someone accepts it there (psa.exception
        ``action_apply_in_open_period``); then it is booked on the first open day, as
        computed now on the server (never a date from the request).
        """
        day = fields.Date.to_date(day)
        if not day:
            return day
        open_day, locks = self._first_open_day(company, day, **journal)
        if not locks:
            return day
        lock_date = open_day - timedelta(days=1)
        Exception_ = self.env["psa.exception"].sudo()
        accepted = Exception_.search(
            [
                ("backend_id", "=", backend.id),
                ("object_type", "=", self._psa_object_type),
                ("external_id", "=", str(external_id)),
                ("psa_open_period_accepted", "=", True),
                ("state", "in", ("open", "retrying")),
            ]
        )
        if accepted:
            accepted._mark_resolved(
                _("Applied in the open period: booked on %s.", fields.Date.to_string(open_day))
            )
            return open_day
        error = SyncConflict(
            _(
                "%(what)s is dated %(day)s, in a period of %(company)s locked until "
                "%(lock)s (%(locks)s). Nothing was written there. Proposed: book it on %(open)s, the "
                "first open day; accept with Apply in open period on this exception, or "
                "correct the date in the PSA and retry.",
                what=what,
                day=fields.Date.to_string(day),
                company=company.name,
                lock=fields.Date.to_string(lock_date),
                locks=company._format_lock_dates(locks),
                open=fields.Date.to_string(open_day),
            ),
            incoming={"date": fields.Date.to_string(day)},
            current={
                "lock_date": fields.Date.to_string(lock_date),
                "proposed_date": fields.Date.to_string(open_day),
            },
        )
        error.exception_values = {
            "psa_lock_date": lock_date,
            "psa_open_period_date": open_day,
        }
        raise error
