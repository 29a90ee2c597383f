DROP TABLE operator_clients;
