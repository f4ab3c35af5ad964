"""Identifier systems, code systems and extension URLs used on the wire: one place.

VN Core = the Vietnamese community FHIR guide (HL7 Vietnam, http://fhir.hl7.org.vn/core/, a draft).
Each entry says whether it was CONFIRMED in the guide's published NamingSystems or is UNCONFIRMED
(our best reading, or a local URI of this platform); docs/fhir.md lists them with the same marks.
"""

from __future__ import annotations

VN_CORE = "http://fhir.hl7.org.vn/core"

# --- Identifier systems (NamingSystem URIs) ------------------------------------------------------
CCCD = f"{VN_CORE}/sid/cccd"  # CONFIRMED: citizen ID (Căn cước công dân), 12 digits
BHYT = f"{VN_CORE}/sid/bhyt"  # CONFIRMED: NamingSystem vn-bhyt-ns (health-insurance card)
PASSPORT = f"{VN_CORE}/sid/passport"  # CONFIRMED: NamingSystem vn-passport-ns
FACILITY = f"{VN_CORE}/sid/ma-cskcb"  # CONFIRMED (draft 0.1.0): NamingSystem vn-ma-cskcb-ns
MA_LK = f"{VN_CORE}/sid/ma-lk"  # CONFIRMED: claim link code (used by later resources)
BHXH = f"{VN_CORE}/sid/bhxh"  # UNCONFIRMED: the guide lists a BHXH NamingSystem; URI not seen

# UNCONFIRMED / local: a record number (MRN) is unique within one facility only, so each facility
# gets its own system under this platform's namespace; the identifier also carries type MR and
# the facility as assigner (by its ma-cskcb code).
MRN_PREFIX = "urn:ehealth-city:mrn:"

# --- Code systems --------------------------------------------------------------------------------
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # HL7 identifier types (MR, ...)
ISO_3166 = "urn:iso:std:iso:3166"  # nationality codes
ETHNICITY_CS = f"{VN_CORE}/CodeSystem/vn-ethnicity-cs"  # UNCONFIRMED: 54 ethnic groups (GSO)
ADMIN_UNIT_CS = f"{VN_CORE}/CodeSystem/vn-admin-unit-cs"  # UNCONFIRMED: GSO unit codes
OCCUPATION_CS = "urn:ehealth-city:occupation"  # local (UNCONFIRMED against the BHYT table)

# --- Extensions ----------------------------------------------------------------------------------
NATIONALITY_EXT = "http://hl7.org/fhir/StructureDefinition/patient-nationality"  # HL7 core ext
ETHNICITY_EXT = f"{VN_CORE}/StructureDefinition/vn-ext-ethnicity"  # UNCONFIRMED
PROVINCE_EXT = f"{VN_CORE}/StructureDefinition/vn-ext-province"  # UNCONFIRMED (address)
COMMUNE_EXT = f"{VN_CORE}/StructureDefinition/vn-ext-commune"  # UNCONFIRMED (address)
OCCUPATION_EXT = "urn:ehealth-city:extension:occupation"  # local
ADDRESS_SCHEME_EXT = "urn:ehealth-city:extension:address-scheme"  # local: "2025" or "legacy"


def mrn_system(facility_code: str) -> str:
    return f"{MRN_PREFIX}{facility_code}"


# --- Organization, Location, Encounter (step 2) ---------------------------------------------------
ORGANIZATION_TYPE_CS = "http://terminology.hl7.org/CodeSystem/organization-type"  # HL7 (prov, govt)
FACILITY_KIND_CS = "urn:ehealth-city:facility-kind"  # local: hospital, clinic, commune_station, ...
FACILITY_LEVEL_CS = "urn:ehealth-city:facility-level"  # local: central, provincial, basic, primary
LOCATION_PHYSICAL_TYPE_CS = "http://terminology.hl7.org/CodeSystem/location-physical-type"  # HL7
# UNCONFIRMED / local: a department code (mã khoa) is unique within its facility only, so each
# facility gets its own system, like record numbers.
DEPARTMENT_PREFIX = "urn:ehealth-city:department:"
ACT_CODE_CS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"  # HL7 (AMB, IMP): Encounter.class
VISIT_TYPE_CS = "urn:ehealth-city:ma-loai-kcb"  # local: MA_LOAI_KCB (QĐ 130), Encounter.type


def department_system(facility_code: str) -> str:
    return f"{DEPARTMENT_PREFIX}{facility_code}"


# --- Condition, Coverage (step 3) ------------------------------------------------------------------
ICD_10 = "http://hl7.org/fhir/sid/icd-10"  # HL7: WHO ICD-10 (the MoH list uses WHO codes)
CONDITION_CATEGORY_CS = "http://terminology.hl7.org/CodeSystem/condition-category"  # HL7
CONDITION_CLINICAL_CS = "http://terminology.hl7.org/CodeSystem/condition-clinical"  # HL7
CONDITION_VER_STATUS_CS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"  # HL7
# local: main (rank 1 = bệnh chính) or secondary (2.. = bệnh kèm theo), like Encounter.diagnosis.rank
DIAGNOSIS_RANK_EXT = "urn:ehealth-city:extension:diagnosis-rank"
DIAGNOSIS_PHASE_EXT = "urn:ehealth-city:extension:diagnosis-phase"  # local: valueCoding below
DIAGNOSIS_PHASE_CS = "urn:ehealth-city:diagnosis-phase"  # local: encounter, admission, discharge
COVERAGE_CLASS_CS = "http://terminology.hl7.org/CodeSystem/coverage-class"  # HL7 (group, class)
SUBSCRIBER_RELATIONSHIP_CS = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"  # HL7
# local, UNCONFIRMED against VN Core: the BHYT card's other printed fields
BHYT_REGISTERED_FACILITY_EXT = "urn:ehealth-city:extension:bhyt-registered-facility"  # nơi ĐKKCB
BHYT_FIVE_YEARS_EXT = "urn:ehealth-city:extension:bhyt-five-years-date"  # NAM_NAM_LIEN_TUC
BHYT_COPAY_EXEMPT_EXT = "urn:ehealth-city:extension:bhyt-copay-exempt-from"  # NGAY_MIEN_CCT
