from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def reset(request):
    """Test hook: empty the database between tests (POST /_test/reset)."""
    from tests.servers.django_scim.scimapp.models import Group, User

    User.objects.all().delete()
    Group.objects.all().delete()
    return HttpResponse(status=204)


urlpatterns = [
    path("scim/v2/", include("django_scim.urls", namespace="scim")),
    path("_test/reset", reset),
]
