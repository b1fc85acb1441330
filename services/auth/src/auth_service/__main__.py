from auth_service.main import main

main()
