from django.db import transaction
from django.http import HttpResponse, HttpResponseNotAllowed
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def reset(request):
    """Test hook: empty the database between tests (POST /_test/reset, bearer token required).
    Ids keep growing across resets, so an id from an earlier test never names a new resource."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    from tests.servers.django_scim.scimapp.models import Group, User

    with transaction.atomic():
        User.scim_groups.through.objects.all().delete()
        User.objects.all().delete()
        Group.objects.all().delete()
    return HttpResponse(status=204)


urlpatterns = [
    path("scim/v2/", include("django_scim.urls", namespace="scim")),
    path("_test/reset", reset),
]
