from tests.factories import *
def test_probe(client, login_as, count_queries):
    admin = AdminFactory()
    for _ in range(3):
        street = StreetFactory()
        for _ in range(3):
            VenueFactory(community=CommunityFactory(street=street))
    login_as(admin)
    client.set_cookie("lang", "en")
    with count_queries() as n:
        response = client.get("/manage/places/?district_id=1")
    print("QUERIES", n())
    open("/tmp/tree.html","w").write(response.get_data(as_text=True))
    with count_queries() as n:
        response = client.get("/manage/people/")
    print("QUERIES people", n())
    open("/tmp/people.html","w").write(response.get_data(as_text=True))
