from gateway_service.main import main

main()
