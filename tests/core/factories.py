"""Factories for health units and staff (synthetic data only)."""

from __future__ import annotations

import factory

from ehealth.core.models import (
    Bed,
    Department,
    Facility,
    Province,
    Role,
    StaffMembership,
    User,
    Ward,
)
from ehealth.core.permissions import staff_groups_sync


class ProvinceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Province
        django_get_or_create = ("code",)

    code = "48"
    name = "Thành phố Đà Nẵng"


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    code = factory.Sequence(lambda n: f"48{n % 1000:03d}")
    name = factory.Sequence(lambda n: f"Bệnh viện Thử nghiệm {n}")
    level = Facility.Level.PROVINCIAL
    kind = Facility.Kind.HOSPITAL
    province = factory.SubFactory(ProvinceFactory)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    facility = factory.SubFactory(FacilityFactory)
    code = factory.Sequence(lambda n: f"K{(n % 60) + 1:02d}")
    name = factory.Sequence(lambda n: f"Khoa {n}")


class WardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ward

    department = factory.SubFactory(DepartmentFactory)
    code = factory.Sequence(lambda n: f"B{n}")
    name = factory.Sequence(lambda n: f"Buồng {n}")


class BedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bed

    ward = factory.SubFactory(WardFactory)
    code = factory.Sequence(lambda n: f"G{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"Nhân viên {n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-Test-2026!")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


def make_staff(facility: Facility, role: str = Role.RECEPTIONIST, **user_kwargs) -> User:
    """A user holding `role` at `facility`, with facility group membership in sync."""
    user = UserFactory(**user_kwargs)
    StaffMembership.objects.create(user=user, facility=facility, role=role)
    staff_groups_sync(user)
    return user
