"""Deterministic seed data for the demo PSA: a small professional-services firm.

Ids and timestamps are fixed so that tests and demos see the same data on every run.
"""

import random
from datetime import UTC, date, datetime, timedelta

# Collection name -> (object type used in webhook event types, id prefix, number before the
# first id), so that ids generated in an empty store follow the same scheme as the seed.
# Listed parents first: a record only refers to records of collections listed before it.
COLLECTIONS = {
    "customers": ("customer", "C-", 1000),
    "contacts": ("contact", "CT-", 1100),
    "departments": ("department", "D-", 4500),
    "employees": ("employee", "E-", 4000),
    "projects": ("project", "P-", 2000),
    "tasks": ("task", "T-", 3000),
    "time_entries": ("time_entry", "TE-", 5000),
    "expenses": ("expense", "X-", 8000),
    "milestones": ("milestone", "M-", 6000),
    "allocations": ("allocation", "A-", 7000),
    "leaves": ("leave", "L-", 9000),
    "contracts": ("contract", "K-", 6500),
    "billing_events": ("billing_event", "BE-", 9500),
    "purchases": ("purchase", "PU-", 7500),
    "vendor_bills": ("vendor_bill", "VB-", 7800),
}

# Announcements go parents first so that a receiver can resolve references as it goes.
ANNOUNCE_ORDER = list(COLLECTIONS)

# Generated time entries (benchmarks, ``serve --time-entries``) are numbered from here on,
# far above the seeded TE-5001...
GENERATED_TIME_ENTRY_BASE = 100000

SEED_EPOCH = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)


def resolve_collection(name):
    """Return the collection for a plural collection name or a singular object type."""
    if name in COLLECTIONS:
        return name
    for collection, (object_type, _prefix, _base) in COLLECTIONS.items():
        if name == object_type:
            return collection
    raise KeyError(name)


_CUSTOMERS = [
    {
        "id": "C-1001",
        "name": "Northwind Logistics GmbH",
        "is_company": True,
        "vat": "DE811907980",
        "ref": "NW-001",
        "email": "ap@northwind.example",
        "phone": "+49 40 5550 1200",
        "website": "https://northwind.example",
        "street": "Speicherstadt 12",
        "city": "Hamburg",
        "zip": "20457",
        "country_code": "DE",
        "payment_terms": "30 days",
    },
    {
        "id": "C-1002",
        "name": "Contoso Health Ltd",
        "is_company": True,
        "vat": "GB980780684",
        "ref": "CH-002",
        "email": "finance@contoso-health.example",
        "phone": "+44 20 7946 0321",
        "website": "https://contoso-health.example",
        "street": "14 Harley Street",
        "city": "London",
        "zip": "W1G 9PQ",
        "country_code": "GB",
        "payment_terms": "45 days",
    },
    {
        "id": "C-1003",
        "name": "Fabrikam Retail Inc.",
        "is_company": True,
        "vat": None,
        "ref": "FR-003",
        "email": "payables@fabrikam.example",
        "phone": "+1 312 555 0147",
        "website": "https://fabrikam.example",
        "street": "233 S Wacker Dr",
        "city": "Chicago",
        "zip": "60606",
        "country_code": "US",
        "payment_terms": "15 days",
    },
]

_CONTACTS = [
    {
        "id": "CT-1101",
        "customer_id": "C-1001",
        "name": "Katrin Vogel",
        "email": "katrin.vogel@northwind.example",
        "phone": "+49 40 5550 1234",
        "job_title": "Head of IT",
    },
    {
        "id": "CT-1102",
        "customer_id": "C-1001",
        "name": "Jonas Becker",
        "email": "jonas.becker@northwind.example",
        "phone": "+49 40 5550 1260",
        "job_title": "Accounts Payable Lead",
    },
    {
        "id": "CT-1103",
        "customer_id": "C-1002",
        "name": "Emily Clarke",
        "email": "emily.clarke@contoso-health.example",
        "phone": "+44 20 7946 0388",
        "job_title": "Programme Director",
    },
    {
        "id": "CT-1104",
        "customer_id": "C-1003",
        "name": "Marcus Reed",
        "email": "marcus.reed@fabrikam.example",
        "phone": "+1 312 555 0190",
        "job_title": "VP Digital Commerce",
    },
]

_PROJECTS = [
    {
        "id": "P-2001",
        "code": "NW-ERP-26",
        "name": "Northwind ERP Rollout",
        "customer_id": "C-1001",
        "state": "active",
        "billing_type": "time_and_materials",
        "currency": "EUR",
        "budget_hours": 480.0,
        "date_start": "2026-10-01",
        "date_end": "2027-03-31",
        "description": "Finance and warehouse ERP rollout across three German sites.",
        "manager_email": "anna.schmidt@consultancy.example",
    },
    {
        "id": "P-2002",
        "code": "CH-PORTAL-26",
        "name": "Contoso Patient Portal",
        "customer_id": "C-1002",
        "state": "active",
        "billing_type": "fixed_fee",
        "currency": "GBP",
        "budget_hours": 320.0,
        "date_start": "2026-09-15",
        "date_end": "2027-01-31",
        "description": "Patient self-service portal with appointment booking.",
        "manager_email": "james.carter@consultancy.example",
    },
    {
        "id": "P-2003",
        "code": "FR-ANALYTICS-27",
        "name": "Fabrikam Retail Analytics",
        "customer_id": "C-1003",
        "state": "approved",
        "billing_type": "milestone",
        "currency": "USD",
        "budget_hours": 200.0,
        "date_start": "2026-12-01",
        "date_end": "2027-04-30",
        "description": "Store performance dashboards and demand forecasting.",
        "manager_email": "anna.schmidt@consultancy.example",
    },
]

_TASKS = [
    ("T-3001", "P-2001", "Requirements workshops", "done", 40.0, "anna.schmidt"),
    ("T-3002", "P-2001", "Finance module configuration", "in_progress", 160.0, "lukas.weber"),
    ("T-3003", "P-2001", "Data migration", "open", 120.0, "priya.nair"),
    ("T-3004", "P-2001", "User training", "open", 60.0, "anna.schmidt"),
    ("T-3005", "P-2002", "UX design", "done", 80.0, "priya.nair"),
    ("T-3006", "P-2002", "Booking API integration", "in_progress", 140.0, "lukas.weber"),
    ("T-3007", "P-2002", "Accessibility audit", "open", 40.0, "james.carter"),
    ("T-3008", "P-2003", "Data discovery", "open", 50.0, "priya.nair"),
    ("T-3009", "P-2003", "Dashboard build", "open", 110.0, "lukas.weber"),
    ("T-3010", "P-2003", "Forecasting model", "cancelled", 40.0, "priya.nair"),
]

_DEPARTMENTS = [
    {"id": "D-4501", "name": "Delivery", "manager_id": "E-4001", "parent_id": None},
    {"id": "D-4502", "name": "Data & Analytics", "manager_id": "E-4003", "parent_id": None},
    {"id": "D-4503", "name": "Engineering", "manager_id": None, "parent_id": None},
]

_EMPLOYEES = [
    {
        "id": "E-4001",
        "name": "Anna Schmidt",
        "email": "anna.schmidt@consultancy.example",
        "work_email": "anna.schmidt@consultancy.example",
        "job_title": "Managing Consultant",
        "department_id": "D-4501",
        "department": "Delivery",
        "manager_id": None,
        "hourly_cost": 85.0,
        "currency": "EUR",
        "billable": True,
        "start_date": "2019-04-01",
        "role": "Managing Consultant",
        "skills": [
            {"type": "Languages", "name": "German", "level": "C2", "level_progress": 100},
            {
                "type": "Consulting",
                "name": "SAP S/4HANA Finance",
                "level": "Expert",
                "level_progress": 90,
            },
        ],
        "cost_centre": "CC-DEL",
        "cost_centre_name": "Delivery",
        "status": "active",
    },
    {
        "id": "E-4002",
        "name": "James Carter",
        "email": "james.carter@consultancy.example",
        "work_email": "james.carter@consultancy.example",
        "job_title": "Senior Project Manager",
        "department_id": "D-4501",
        "department": "Delivery",
        "manager_id": "E-4001",
        "hourly_cost": 78.0,
        "currency": "EUR",
        "billable": False,
        "start_date": "2021-02-15",
        "role": "Senior Project Manager",
        "skills": [
            {"type": "Consulting", "name": "PRINCE2", "level": "Practitioner", "level_progress": 75}
        ],
        "cost_centre": "CC-PMO",
        "cost_centre_name": "Project Management Office",
        "status": "active",
    },
    {
        "id": "E-4003",
        "name": "Priya Nair",
        "email": "priya.nair@consultancy.example",
        "work_email": "priya.nair@consultancy.example",
        "job_title": "Data Consultant",
        "department_id": "D-4502",
        "department": "Data & Analytics",
        "manager_id": "E-4001",
        "hourly_cost": 64.0,
        "currency": "EUR",
        "billable": True,
        "start_date": "2022-09-01",
        "role": "Consultant",
        "skills": [
            {"type": "Technology", "name": "Power BI", "level": "Advanced", "level_progress": 75}
        ],
        "cost_centre": "CC-DNA",
        "cost_centre_name": "Data & Analytics",
        "status": "active",
    },
    {
        "id": "E-4004",
        "name": "Lukas Weber",
        "email": "lukas.weber@consultancy.example",
        "work_email": "lukas.weber@consultancy.example",
        "job_title": "Software Engineer",
        "department_id": "D-4503",
        "department": "Engineering",
        "manager_id": "E-4002",
        "hourly_cost": 58.0,
        "currency": "EUR",
        "billable": True,
        "start_date": "2023-06-01",
        "role": "Software Engineer",
        "skills": [
            {"type": "Technology", "name": "Python", "level": "Expert", "level_progress": 90}
        ],
        "cost_centre": "CC-ENG",
        "cost_centre_name": "Engineering",
        "status": "active",
    },
]

# (task, employee, date, hours, description, state); ids run from TE-5001 in this order.
_TIME_ENTRIES = [
    ("T-3001", "E-4001", "2026-11-02", 6.0, "Finance workshop", "approved"),
    ("T-3002", "E-4004", "2026-11-02", 8.0, "Chart of accounts", "approved"),
    ("T-3005", "E-4003", "2026-11-03", 7.5, "Booking flow wireframes", "approved"),
    ("T-3006", "E-4004", "2026-11-03", 4.0, "API spike", "approved"),
    ("T-3003", "E-4003", "2026-11-04", 5.5, "Legacy data profiling", "approved"),
    ("T-3007", "E-4002", "2026-11-04", 2.0, "Audit scoping call", "approved"),
    ("T-3002", "E-4004", "2026-11-05", 8.0, "Tax configuration", "approved"),
    ("T-3001", "E-4001", "2026-11-06", 3.5, "Workshop minutes", "approved"),
    ("T-3006", "E-4004", "2026-11-09", 7.0, "Slot availability endpoint", "approved"),
    ("T-3005", "E-4003", "2026-11-10", 6.5, "Usability test round 1", "approved"),
    ("T-3003", "E-4003", "2026-11-11", 8.0, "Customer master mapping", "approved"),
    ("T-3008", "E-4003", "2026-11-12", 1.5, "Pre-sales data review", "rejected"),
    ("T-3002", "E-4004", "2026-11-12", 7.5, "Payment run setup", "approved"),
    ("T-3007", "E-4002", "2026-11-13", 4.5, "WCAG checklist review", "approved"),
    ("T-3004", "E-4001", "2026-11-16", 3.0, "Training plan", "approved"),
    ("T-3006", "E-4004", "2026-11-17", 8.0, "Booking confirmation emails", "approved"),
    ("T-3003", "E-4003", "2026-11-18", 6.0, "Trial migration", "approved"),
    ("T-3005", "E-4002", "2026-11-19", 2.5, "Design sign-off meeting", "approved"),
    ("T-3002", "E-4004", "2026-11-20", 5.0, "Bank statement import", "submitted"),
    ("T-3006", "E-4004", "2026-11-20", 3.0, "Error handling", "submitted"),
]

_MILESTONES = [
    {
        "id": "M-6001",
        "project_id": "P-2003",
        "name": "Discovery report accepted",
        "amount": 18000.0,
        "currency": "USD",
        "state": "planned",
        "due_date": "2027-01-15",
    },
    {
        "id": "M-6002",
        "project_id": "P-2002",
        "name": "Portal design approved",
        "amount": 24000.0,
        "currency": "GBP",
        "state": "completed",
        "due_date": "2026-11-06",
    },
]

_ALLOCATIONS = [
    {
        "id": "A-7001",
        "employee_id": "E-4004",
        "project_id": "P-2001",
        "start_date": "2026-11-02",
        "end_date": "2026-12-18",
        "hours_per_day": 6.0,
        "role": "ERP Developer",
        "status": "confirmed",
    },
    {
        "id": "A-7002",
        "employee_id": "E-4003",
        "project_id": "P-2002",
        "start_date": "2026-11-02",
        "end_date": "2026-11-27",
        "hours_per_day": 4.0,
        "role": "UX Researcher",
        "status": "confirmed",
    },
    {
        "id": "A-7003",
        "employee_id": "E-4003",
        "project_id": "P-2003",
        "start_date": "2026-12-01",
        "end_date": "2027-02-26",
        "hours_per_day": 8.0,
        "role": "Data Consultant",
        "status": "tentative",
    },
]

_EXPENSES = [
    {
        "id": "X-8001",
        "employee_id": "E-4001",
        "employee_email": "anna.schmidt@consultancy.example",
        "project_id": "P-2001",
        "date": "2026-11-02",
        "amount": 184.6,
        "currency": "EUR",
        "category": "travel",
        "description": "Train Berlin-Hamburg return for finance workshop",
        "reimbursable": True,
        "state": "approved",
        "receipt_ref": "RCPT-2026-1102-01",
    },
    {
        "id": "X-8002",
        "employee_id": "E-4002",
        "employee_email": "james.carter@consultancy.example",
        "project_id": "P-2002",
        "date": "2026-11-13",
        "amount": 96.4,
        "currency": "GBP",
        "category": "accommodation",
        "description": "Hotel night London for accessibility audit",
        "reimbursable": True,
        "state": "approved",
        "receipt_ref": "RCPT-2026-1113-02",
    },
]


_LEAVES = [
    {
        "id": "L-9001",
        "employee_id": "E-4004",
        "date_from": "2026-11-23",
        "date_to": "2026-11-27",
        "leave_type": "vacation",
        "hours": 40.0,
        "state": "approved",
    },
    {
        "id": "L-9002",
        "employee_id": "E-4003",
        "date_from": "2026-12-03",
        "date_to": "2026-12-04",
        "leave_type": "sick",
        "hours": 16.0,
        "state": "approved",
    },
    {
        "id": "L-9003",
        "employee_id": "E-4001",
        "date_from": "2026-12-21",
        "date_to": "2026-12-31",
        "leave_type": "vacation",
        "hours": 64.0,
        "state": "requested",
    },
]


# One contract per seeded project, one of each billing model the connector maps: rates per
# role and per person (T&M), a fixed fee in instalments, and a milestone schedule. Each
# rate and schedule names its service item (the demo backend maps them to products).
_CONTRACTS = [
    {
        "id": "K-6501",
        "project_id": "P-2001",
        "customer_id": "C-1001",
        "name": "Northwind ERP Rollout - T&M",
        "type": "time_and_materials",
        "currency": "EUR",
        "date_start": "2026-10-01",
        "date_end": "2027-03-31",
        "rate_card": [
            {
                "role": "Consultant",
                "service_item": "CONSULTING",
                "hourly_rate": 150.0,
                "default": True,
            },
            {
                "role": "Managing Consultant",
                "service_item": "SENIOR-CONSULTING",
                "hourly_rate": 190.0,
            },
            {
                "employee_id": "E-4001",
                "employee_email": "anna.schmidt@consultancy.example",
                "service_item": "SENIOR-CONSULTING",
                "hourly_rate": 190.0,
            },
            {
                "employee_id": "E-4004",
                "employee_email": "lukas.weber@consultancy.example",
                "service_item": "CONSULTING",
                "hourly_rate": 120.0,
            },
        ],
        "expense_policy": "cost",
        "state": "active",
    },
    {
        "id": "K-6502",
        "project_id": "P-2002",
        "customer_id": "C-1002",
        "name": "Contoso Patient Portal - fixed fee",
        "type": "fixed_fee",
        "currency": "GBP",
        "fixed_amount": 96000.0,
        "service_item": "DELIVERABLE",
        "milestones": [
            {"id": "M-6002", "name": "Portal design approved", "amount": 24000.0},
            {"id": "I-6502-2", "name": "Go-live instalment", "amount": 72000.0},
        ],
        "expense_policy": "sales_price",
        "state": "active",
    },
    {
        "id": "K-6503",
        "project_id": "P-2003",
        "customer_id": "C-1003",
        "name": "Fabrikam Retail Analytics - milestones",
        "type": "milestone",
        "currency": "USD",
        "service_item": "DELIVERABLE",
        "milestones": [
            {"id": "M-6001", "name": "Discovery report accepted", "amount": 18000.0},
            {"id": "M-6003", "name": "Dashboards live", "amount": 42000.0},
        ],
        "expense_policy": "no",
        # Active: its accepted milestone is invoiced in the demo (a contract only
        # signed stays a quotation in Odoo and takes no billing events).
        "state": "active",
    },
]


# Project procurement: a subcontractor engaged on the T&M rollout (part of its time already
# approved and billed), a purchase for the fixed-fee portal billed by its vendor, and one
# still awaiting approval, hence not yet committed.
_PURCHASES = [
    {
        "id": "PU-7501",
        "project_id": "P-2001",
        "kind": "subcontract",
        "vendor_id": "V-1",
        "vendor_name": "Datawerk Freelance GmbH",
        "vendor_email": "billing@datawerk.example",
        "vendor_vat": "DE287654321",
        "description": "Freelance SAP data migration specialist",
        "hours": 80.0,
        "hourly_rate": 95.0,
        "amount": 7600.0,
        "currency": "EUR",
        "date": "2026-11-02",
        "state": "approved",
    },
    {
        "id": "PU-7502",
        "project_id": "P-2002",
        "kind": "purchase",
        "vendor_id": "V-2",
        "vendor_name": "Accessibility Labs Ltd",
        "vendor_email": "accounts@a11ylabs.example",
        "description": "External WCAG 2.2 accessibility audit",
        "amount": 4500.0,
        "currency": "GBP",
        "date": "2026-11-05",
        "state": "approved",
    },
    {
        "id": "PU-7503",
        "project_id": "P-2003",
        "kind": "purchase",
        "vendor_id": "V-3",
        "vendor_name": "CloudHost BV",
        "description": "Analytics cluster hosting, first quarter",
        "amount": 1200.0,
        "currency": "USD",
        "date": "2026-11-20",
        "state": "submitted",
    },
]

_VENDOR_BILLS = [
    {
        "id": "VB-7801",
        "purchase_id": "PU-7501",
        "kind": "subcontractor_time",
        "date": "2026-11-27",
        "hours": 32.0,
        "hourly_rate": 95.0,
        "amount": 3040.0,
        "currency": "EUR",
        "description": "Approved subcontractor time, weeks 46-48",
        "state": "approved",
    },
    {
        "id": "VB-7802",
        "purchase_id": "PU-7502",
        "kind": "vendor_invoice",
        "date": "2026-11-30",
        "amount": 1500.0,
        "currency": "GBP",
        "vendor_ref": "AL-2026-118",
        "description": "Accessibility audit, first part",
        "state": "approved",
    },
]


# The firm's second legal entity (``serve --legal-entities``, what `make run` starts): a
# UK company beside the German one. Its records name their entity in ``legal_entity``,
# which the Odoo backend maps to its UK company (scripts/setup_demo_backend.py); the
# task, contract and time follow their project there. Staff of the German entity work on
# it (seconded); off by default, so that a backend without the mapping sees no entity.
UK_ENTITY = "UK"

_UK_RECORDS = {
    "customers": [
        {
            "id": "C-1004",
            "name": "Thames Freight plc",
            "is_company": True,
            "vat": "GB293847510",
            "ref": "TF-004",
            "email": "accounts@thames-freight.example",
            "phone": "+44 20 7946 0555",
            "website": "https://thames-freight.example",
            "street": "1 Canada Square",
            "city": "London",
            "zip": "E14 5AB",
            "country_code": "GB",
            "payment_terms": "30 days",
            "legal_entity": UK_ENTITY,
        }
    ],
    "projects": [
        {
            "id": "P-2004",
            "code": "TF-OPS-26",
            "name": "Thames Freight Operations Review",
            "customer_id": "C-1004",
            "state": "active",
            "billing_type": "time_and_materials",
            "currency": "GBP",
            "budget_hours": 120.0,
            "date_start": "2026-11-02",
            "date_end": "2027-01-29",
            "description": "Warehouse and fleet operations review for the UK entity.",
            "manager_email": "james.carter@consultancy.example",
            "legal_entity": UK_ENTITY,
        }
    ],
    "tasks": [
        {
            "id": "T-3011",
            "project_id": "P-2004",
            "name": "Operations assessment",
            "state": "in_progress",
            "description": "Operations assessment for P-2004.",
            "planned_hours": 60.0,
            "assignee_email": "james.carter@consultancy.example",
        }
    ],
    "contracts": [
        {
            "id": "K-6504",
            "project_id": "P-2004",
            "customer_id": "C-1004",
            "name": "Thames Freight Operations Review - T&M",
            "type": "time_and_materials",
            "currency": "GBP",
            "date_start": "2026-11-02",
            "date_end": "2027-01-29",
            "rate_card": [
                {
                    "role": "Consultant",
                    "service_item": "CONSULTING",
                    "hourly_rate": 140.0,
                    "default": True,
                },
                {
                    "employee_id": "E-4002",
                    "employee_email": "james.carter@consultancy.example",
                    "service_item": "SENIOR-CONSULTING",
                    "hourly_rate": 165.0,
                },
            ],
            "expense_policy": "no",
            "state": "active",
        }
    ],
}

# (task, employee, date, hours, description, state) on the UK project, TE-5501 on.
_UK_TIME_ENTRIES = [
    ("T-3011", "E-4002", "2026-11-10", 6.0, "Depot site visit", "approved"),
    ("T-3011", "E-4003", "2026-11-11", 4.0, "Fleet data analysis", "approved"),
    ("T-3011", "E-4002", "2026-11-18", 3.5, "Findings workshop", "submitted"),
]


# The tax code of each contract in the two-entity demo (the backend maps the codes to each
# company's taxes, scripts/setup_demo_backend.py): standard VAT for a customer in the
# seller's country, the export rate for services sold abroad. Only there: a backend
# without tax mappings (the single-entity seed) would hold every contract at the queue.
_DEMO_TAX_CODES = {
    "K-6501": "VAT-STD",
    "K-6502": "VAT-EXPORT",
    "K-6503": "VAT-EXPORT",
    "K-6504": "VAT-STD",
}


def _uk_records():
    employees = {employee["id"]: employee for employee in _EMPLOYEES}
    records = {collection: list(items) for collection, items in _UK_RECORDS.items()}
    records["time_entries"] = [
        _time_entry(
            f"TE-{5501 + index}",
            "P-2004",
            task_id,
            employees[employee_id],
            day,
            hours,
            description,
            True,
            state,
        )
        for index, (task_id, employee_id, day, hours, description, state) in enumerate(
            _UK_TIME_ENTRIES
        )
    ]
    return records


def _tasks():
    return [
        {
            "id": task_id,
            "project_id": project_id,
            "name": name,
            "state": state,
            "description": f"{name} for {project_id}.",
            "planned_hours": planned_hours,
            "assignee_email": f"{assignee}@consultancy.example",
        }
        for task_id, project_id, name, state, planned_hours, assignee in _TASKS
    ]


def _time_entry(entry_id, project_id, task_id, employee, day, hours, description, billable, state):
    return {
        "id": entry_id,
        "project_id": project_id,
        "task_id": task_id,
        "employee_id": employee["id"],
        "employee_email": employee["email"],
        "date": day,
        "hours": hours,
        "description": description,
        "billable": billable,
        "state": state,
        "billed": False,
        "locked": False,
        "invoice_ref": None,
    }


def _time_entries():
    project_of_task = {task_id: project_id for task_id, project_id, *_rest in _TASKS}
    employees = {employee["id"]: employee for employee in _EMPLOYEES}
    return [
        _time_entry(
            f"TE-{5001 + index}",
            project_of_task[task_id],
            task_id,
            employees[employee_id],
            day,
            hours,
            description,
            True,
            state,
        )
        for index, (task_id, employee_id, day, hours, description, state) in enumerate(
            _TIME_ENTRIES
        )
    ]


_ACTIVITIES = (
    "Workshop on",
    "Configuration of",
    "Review of",
    "Testing of",
    "Documentation for",
    "Bug fixing in",
    "Stakeholder call about",
    "Design of",
    "Data validation for",
    "Deployment of",
    "Pairing session on",
    "Estimation of",
)
_TOPICS = (
    "invoicing rules",
    "user roles",
    "reporting dashboards",
    "the booking API",
    "master data",
    "payment terms",
    "the import pipeline",
    "access rights",
    "email templates",
    "the approval workflow",
    "performance tuning",
    "the release checklist",
)


def _working_days(start_date, days):
    day = date.fromisoformat(start_date) if isinstance(start_date, str) else start_date
    found = []
    while len(found) < days:
        if day.weekday() < 5:
            found.append(day.isoformat())
        day += timedelta(days=1)
    return found


def generate_time_entries(
    count,
    project_ids,
    task_ids_by_project,
    employees,
    start_date,
    days,
    state="approved",
    seed=42,
    first_number=GENERATED_TIME_ENTRY_BASE + 1,
):
    """Return ``count`` deterministic, realistic time entries (no timestamps or version).

    Ids run ``TE-<first_number>``, ``TE-<first_number + 1>``, ...; dates are spread evenly, in
    id order, over ``days`` working days (Monday to Friday) from ``start_date`` (a date or
    ``YYYY-MM-DD``). ``employees`` are dicts with ``id`` and ``email`` (or ``work_email``);
    a project without tasks in ``task_ids_by_project`` gets entries with ``task_id`` None.
    """
    if count < 0 or days < 1:
        raise ValueError("count must be >= 0 and days >= 1")
    if count and not (project_ids and employees):
        raise ValueError("generating time entries needs projects and employees")
    rng = random.Random(seed)
    workdays = _working_days(start_date, days)
    project_ids = list(project_ids)
    people = [
        {"id": employee["id"], "email": employee.get("email") or employee.get("work_email")}
        for employee in employees
    ]
    entries = []
    for index in range(count):
        project_id = rng.choice(project_ids)
        task_ids = task_ids_by_project.get(project_id) or [None]
        description = f"{rng.choice(_ACTIVITIES)} {rng.choice(_TOPICS)}"
        entries.append(
            _time_entry(
                f"TE-{first_number + index}",
                project_id,
                rng.choice(task_ids),
                rng.choice(people),
                workdays[index * len(workdays) // count],
                rng.randint(1, 32) * 0.25,
                description,
                rng.random() < 0.9,
                state,
            )
        )
    return entries


def format_timestamp(moment):
    """ISO 8601 in UTC with a ``Z`` suffix; microseconds only when there are any."""
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.astimezone(UTC).strftime(pattern)


def build_seed(legal_entities=False):
    """Return fresh seed records per collection, stamped one second apart from SEED_EPOCH.

    ``legal_entities``: the firm's UK entity too (records naming ``legal_entity``), and
    the contracts' tax codes."""
    data = {
        "customers": _CUSTOMERS,
        "contacts": _CONTACTS,
        "projects": _PROJECTS,
        "tasks": _tasks(),
        "employees": _EMPLOYEES,
        "time_entries": _time_entries(),
        "milestones": _MILESTONES,
        "allocations": _ALLOCATIONS,
        "expenses": _EXPENSES,
        # Appended last so that the stamps of the older collections stay as they were.
        "departments": _DEPARTMENTS,
        "leaves": _LEAVES,
        "contracts": _CONTRACTS,
        "purchases": _PURCHASES,
        "vendor_bills": _VENDOR_BILLS,
    }
    seeded = {}
    offset = 0
    batches = [data.items()]
    if legal_entities:
        # Stamped after everything else: the stamps of the single-entity seed stay as they
        # were.
        batches.append(_uk_records().items())
    for collection, records in (item for batch in batches for item in batch):
        seeded.setdefault(collection, [])
        for record in records:
            if legal_entities and record.get("id") in _DEMO_TAX_CODES:
                record = {**record, "tax_code": _DEMO_TAX_CODES[record["id"]]}
            stamp = format_timestamp(SEED_EPOCH + timedelta(seconds=offset))
            offset += 1
            seeded[collection].append(
                {
                    **record,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "version": 1,
                    "external_refs": {},
                }
            )
    return seeded
