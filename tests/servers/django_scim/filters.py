"""Filter attribute maps. Out of the box django-scim2 matches nothing for `externalId eq` and
cannot filter groups at all (scim-servers.md §6).

Group displayName maps to `name`, the column the server returns and PUT changes; the mixin's
`scim_display_name` is written only when a group is created, so a filter on it would miss a
renamed group.
"""

from django_scim.filters import GroupFilterQuery, UserFilterQuery


class UserFilter(UserFilterQuery):
    attr_map = {
        **UserFilterQuery.attr_map,
        ("externalId", None, None): "scim_external_id",
        ("id", None, None): "scim_id",
    }


class GroupFilter(GroupFilterQuery):
    attr_map = {
        ("displayName", None, None): "name",
        ("externalId", None, None): "scim_external_id",
        ("id", None, None): "scim_id",
    }
