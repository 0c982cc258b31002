"""Filter attribute maps: by default django-scim2 matches nothing for externalId (scim-servers.md)."""

from django_scim.filters import GroupFilterQuery, UserFilterQuery


class UserFilter(UserFilterQuery):
    attr_map = {
        **UserFilterQuery.attr_map,
        ("externalId", None, None): "scim_external_id",
        ("id", None, None): "scim_id",
    }


class GroupFilter(GroupFilterQuery):
    attr_map = {
        ("displayName", None, None): "scim_display_name",
        ("externalId", None, None): "scim_external_id",
        ("id", None, None): "scim_id",
    }
